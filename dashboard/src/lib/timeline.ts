/** The run viewer's logic: steps grouped into the Tasks they ran in (fusion), batch items, the time scale. */
import type { Plan, Run, Step } from "../api/types";

export interface StepGroup {
  task?: string;
  steps: Step[];
}

/** The Task of each node: `step.task` when the API says, else the first planned Task holding the node. */
export function taskOf(step: Step, plan: Plan | null): string | undefined {
  if (step.task) return step.task;
  return plan?.tasks.find((t) => t.nodes.includes(step.nodeId))?.state;
}

/** Consecutive steps of one Task form a group; steps outside any Task (choices, gates) stand alone. */
export function groupSteps(steps: Step[], plan: Plan | null): StepGroup[] {
  const groups: StepGroup[] = [];
  for (const step of steps) {
    const task = taskOf(step, plan);
    const last = groups[groups.length - 1];
    if (last && task && last.task === task) last.steps.push(step);
    else groups.push({ task, steps: [step] });
  }
  return groups;
}

export interface ItemRow {
  item: number;
  source?: string;
  status: string;
  steps: number;
  durationMs?: number;
}

/** One row per batch item: failed if a step failed, running if one runs, completed once the run has ended or
 * the item ran as many steps as the furthest item; items without steps yet are pending. */
export function itemRows(run: Run): ItemRow[] {
  const byItem = new Map<number, Step[]>();
  for (const step of run.steps) {
    const item = step.item ?? 0;
    if (!byItem.has(item)) byItem.set(item, []);
    byItem.get(item)!.push(step);
  }
  const most = Math.max(0, ...[...byItem.values()].map((s) => s.length));
  const ended = run.status === "completed" || run.status === "failed" || run.status === "cancelled";
  const rows: ItemRow[] = [];
  for (let item = 0; item < Math.max(run.progress.total, byItem.size); item++) {
    const steps = byItem.get(item) ?? [];
    let status = "pending";
    if (steps.some((s) => s.status === "failed")) status = "failed";
    else if (steps.some((s) => s.status === "running")) status = "running";
    else if (steps.length && (ended || steps.length >= most)) status = "completed";
    else if (steps.length) status = "running";
    if (ended && status === "pending" && run.status === "cancelled") status = "cancelled";
    const times = steps.map((s) => [Date.parse(s.startedAt ?? ""), Date.parse(s.endedAt ?? "")]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    const durationMs = times.length ? Math.max(...times.map(([, b]) => b)) - Math.min(...times.map(([a]) => a)) : undefined;
    rows.push({ item, source: steps.find((s) => s.sourceKey)?.sourceKey, status, steps: steps.length, durationMs });
  }
  return rows;
}

/** Start and span (ms, at least 1) of the steps, for drawing each as a bar on one time axis. */
export function timelineScale(steps: Step[]): { start: number; span: number } {
  const starts = steps.map((s) => Date.parse(s.startedAt ?? "")).filter(Number.isFinite);
  const ends = steps.map((s) => {
    const start = Date.parse(s.startedAt ?? "");
    const end = Date.parse(s.endedAt ?? "");
    return Number.isFinite(end) ? end : start + (s.durationMs ?? 0);
  }).filter(Number.isFinite);
  if (!starts.length) return { start: 0, span: 1 };
  const start = Math.min(...starts);
  return { start, span: Math.max(1, Math.max(...ends) - start) };
}

/** The files of one batch item: inputs by the item's source key, outputs by the keys its steps wrote (or the
 * run's per-item folder `item-<n>/`). Runs that are not batches keep all their files. */
export function filesOfItem<T extends { key: string; item?: number }>(run: Run, files: T[], item: number | undefined): T[] {
  if (!run.batch || item === undefined) return files;
  if (files.some((f) => f.item !== undefined)) return files.filter((f) => f.item === item);
  const keys = new Set<string>();
  for (const step of run.steps) {
    if ((step.item ?? 0) !== item) continue;
    if (step.sourceKey) keys.add(step.sourceKey);
    const output = step.output as { key?: unknown; media?: { key?: unknown } } | undefined;
    if (typeof output?.key === "string") keys.add(output.key);
    if (typeof output?.media?.key === "string") keys.add(output.media.key);
  }
  return files.filter((f) => keys.has(f.key) || f.key.includes(`/item-${item}/`));
}

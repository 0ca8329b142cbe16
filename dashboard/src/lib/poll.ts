/** Polling with backoff: fast while things change, slower while they do not, reset on every change. */
export interface Backoff {
  min: number;
  max: number;
  factor: number;
}

export const RUN_BACKOFF: Backoff = { min: 400, max: 4000, factor: 1.6 };
export const LIST_BACKOFF: Backoff = { min: 2000, max: 15000, factor: 1.5 };

export function nextDelay(current: number, changed: boolean, backoff: Backoff = RUN_BACKOFF, failed = false): number {
  if (changed && !failed) return backoff.min;
  const grown = Math.max(backoff.min, current) * (failed ? backoff.factor * 1.5 : backoff.factor);
  return Math.min(backoff.max * (failed ? 3 : 1), Math.round(grown));
}

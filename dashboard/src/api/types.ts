/** Shapes of the /v1 API the app reads (see /v1/openapi.json). */

export type WorkflowStatus = "draft" | "active" | "paused" | "archived";
export type RunStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

export interface Position {
  x: number;
  y: number;
}

export interface WfNode {
  id: string;
  kind: string;
  label?: string | null;
  config?: Record<string, unknown>;
  position?: Position | null;
}

export interface WfEdge {
  source: string;
  target: string;
  kind?: string | null;
}

export interface Definition {
  name: string;
  description?: string | null;
  tags?: string[];
  nodes: WfNode[];
  edges: WfEdge[];
  trigger?: Record<string, unknown>;
  settings?: Record<string, unknown>;
}

export interface Workflow extends Definition {
  id: string;
  status: WorkflowStatus;
  version: number;
  valid: boolean;
  executionType?: string | null;
  nodeCount: number;
  connectionCount: number;
  versionTag?: string | null;
  template?: string | null;
  lastRunAt?: string | null;
  lastRunId?: string | null;
  lastRunStatus?: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WorkflowList {
  count: number;
  limit: number;
  offset: number;
  workflows: Workflow[];
}

export interface Template {
  id: string;
  name: string;
  description?: string | null;
  tags: string[];
  nodes: WfNode[];
  edges: WfEdge[];
}

export interface CatalogNode {
  kind: string;
  category: string;
  runtime: string;
  role: string;
  fusable: boolean;
  summary: string;
  example?: Record<string, unknown> | null;
  configSchema: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  const?: unknown;
  additionalProperties?: boolean | JsonSchema;
}

export interface Issue {
  code?: string;
  path?: string;
  message: string;
  severity?: string;
  nodeId?: string | null;
}

export interface PlanTask {
  state: string;
  runtime: string;
  nodes: string[];
  longRoute?: string | null;
  fallback?: boolean;
}

export interface Plan {
  executionType: string;
  taskStates: number;
  transitionsPerRun: number;
  lambdaInvocationsPerRun: number;
  estimatedCostPer1000RunsUsd: number;
  tasks: PlanTask[];
}

export interface CheckResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  plan?: Plan | null;
}

export interface VersionInfo {
  version: number;
  versionTag?: string | null;
  description?: string | null;
  status: string;
  createdBy?: string | null;
  createdAt: string;
}

export interface OutputFile {
  key: string;
  filename: string;
  size: number;
  contentType: string;
  url: string;
  item?: number;
}

export interface Step {
  nodeId: string;
  kind: string;
  status: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  output?: Record<string, unknown>;
  error?: string;
  errorMessage?: string;
  errorField?: string;
  task?: string;
  item?: number;
  sourceKey?: string;
}

export interface Run {
  runId: string;
  workflowId: string;
  version: number;
  status: RunStatus;
  batch: boolean;
  progress: { total: number; completed: number; failed: number; tasksSucceeded?: number; tasksFailed?: number };
  steps: Step[];
  outputs: OutputFile[];
  inputs?: OutputFile[];
  error?: { error?: string; message?: string; nodeIds?: string[]; field?: string } | null;
  retryOf?: string | null;
  createdAt: string;
  startedAt?: string | null;
  endedAt?: string | null;
}

export interface RunSummary {
  runId: string;
  workflowId: string;
  version: number;
  status: RunStatus;
  createdAt: string;
  startedAt?: string | null;
  endedAt?: string | null;
}

export interface RunList {
  workflowId: string;
  count: number;
  runs: RunSummary[];
}

export interface RunAccepted {
  runId: string;
  status: RunStatus;
  workflowId: string;
  batch: boolean;
  total: number;
  redriven?: boolean;
}

export interface Job {
  jobId: string;
  jobType: string;
  status: string;
  progress: { total: number; completed: number; failed: number; percent: number };
  results: Record<string, unknown>[];
  errorMessage?: string | null;
  archive?: OutputFile | null;
  createdAt: string;
  updatedAt: string;
}

export interface Webhook {
  id: string;
  url: string;
  eventTypes: string[];
  workflowId?: string | null;
  description?: string;
  status: string;
  createdAt: string;
  disabledReason?: string | null;
}

export interface Attempt {
  number: number;
  at: string;
  statusCode?: number | null;
  latencyMs?: number | null;
  error?: string | null;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode?: number | null;
  createdAt: string;
  payload: Record<string, unknown>;
  log: Attempt[];
}

export interface ApiKey {
  keyId: string;
  name: string;
  scopes: string[];
  revoked: boolean;
  createdAt: string;
  revokedAt?: string | null;
}

export interface Session {
  signedIn: boolean;
  tenant?: string;
  keyId?: string;
  scopes?: string[];
  via?: string;
}

export const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

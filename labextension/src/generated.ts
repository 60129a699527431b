// generated — do not edit; run python -m streamlab.comm.tsgen
//
// The TypeScript mirror of streamlab/core/state.py (the one pipeline state, its
// actions and transitions) and streamlab/core/snapshot.py (the shape of snapshot()).
// tests/test_protocol_version.py fails when this file is stale.

/* ----------------------------------------------------------------- state */

/** Where a pipeline is in its life. The value is the text every view shows. */
export const PIPELINE_STATES = [
  'idle', // built or reset: nothing has run yet
  'running', // sources emit (on the loop, or inside a synchronous collect())
  'paused', // tasks alive, sources hold their batches
  'stopped', // tasks ended before the input did; state kept, start() continues
  'finished', // a finite input ended and every open window fired
  'failed' // an operator raised; `Pipeline.error` says why
] as const;
export type PipelineState = (typeof PIPELINE_STATES)[number];

/** Every user action, in the order the views show their buttons. */
export const ACTIONS = [
  'start',
  'pause',
  'resume',
  'step',
  'stop',
  'reset'
] as const;
export type Action = (typeof ACTIONS)[number];

/** The actions each state allows (buttons enabled in the view and the side panel). */
export const ALLOWED_ACTIONS: Record<PipelineState, readonly Action[]> = {
  idle: ['start', 'step', 'reset'],
  running: ['pause', 'stop', 'reset'],
  paused: ['resume', 'step', 'stop', 'reset'],
  stopped: ['start', 'step', 'reset'],
  finished: ['reset'],
  failed: ['reset']
};

/** The state changes the runtime may make. */
export const TRANSITIONS: Record<PipelineState, readonly PipelineState[]> = {
  idle: ['running', 'stopped', 'finished', 'failed'],
  running: ['idle', 'paused', 'stopped', 'finished', 'failed'],
  paused: ['idle', 'running', 'stopped', 'finished', 'failed'],
  stopped: ['idle', 'running', 'finished', 'failed'],
  finished: ['idle'],
  failed: ['idle']
};

/* ----------------------------------------------------------------- snapshot */

/** Rows through one operator (or the whole pipeline); "in" is a keyword, hence the functional form. */
export interface Counters {
  in: number;
  out: number;
  late: number;
  errors: number;
}

/** One input (port) of an operator: which operator feeds it and its watermark. */
export interface InputSnapshot {
  port: number;
  upstream: string | null;
  watermark: number | null;
}

/** One operator: identity, graph edges, counters, watermark and its own state. */
export interface OperatorSnapshot {
  id: string;
  kind: string;
  label: string;
  upstreams: string[];
  inputs: InputSnapshot[];
  counters: Counters;
  events_per_s: number;
  watermark: number | null;
  state: { [key: string]: unknown };
  checkpoint?: { [key: string]: unknown };
}

/** A pipeline running on a Flink cluster (`res.on_flink`): the job as the views show it. */
export interface FlinkJobSnapshot {
  job_id: string | null;
  job_state: string | null;
  web_url: string | null;
  cluster_url: string;
  records_in: number;
  records_out: number;
  rows: number;
  late: number;
  changelog: boolean;
  actions: string[];
}

/** A whole pipeline: the one picture every view and test reads. */
export interface PipelineSnapshot {
  name: string;
  state: string;
  watermark: number | null;
  watermark_text: string | null;
  lag_ms: number | null;
  counters: Counters;
  events_per_s: number;
  operators: OperatorSnapshot[];
  error?: string;
  flink?: FlinkJobSnapshot;
}

/** One open (window, key) of a window operator, as the inspector shows it. */
export interface OpenWindow {
  key: unknown[];
  key_text: string;
  window_start: number;
  window_end: number;
  start_text: string;
  end_text: string;
  rows: number;
  partials: { [key: string]: unknown };
}

/** `state` of a window operator. */
export interface WindowState {
  window: string;
  by: string[];
  allowed_lateness_ms: number;
  open_windows: OpenWindow[];
  open_count: number;
  truncated: boolean;
  keys: number;
  counted: number;
  late_ledger: { [key: string]: unknown }[];
  errors: { [key: string]: unknown }[];
}

/** `state` of a watermark operator. */
export interface WatermarkState {
  max_event_time: number | null;
  delay_ms: number;
  partitions?: { [key: string]: { [key: string]: number } };
}

/** `state` of a source. */
export interface SourceState {
  position: number;
  exhausted: boolean;
  speed: number | null;
  finite: boolean;
  batch_size: number;
}

/** `state` of a continuous `groupby`: the per-key aggregate (the current table). */
export interface GroupByState {
  by: string[];
  keys: number;
  aggregates: string[];
  table: { [key: string]: unknown }[];
  truncated: boolean;
}

/**
 * `state` of a continuous Top-N or keep-last deduplication: the rows each key keeps, in
 * rank order (a `rank` column, 1 first).
 */
export interface RankState {
  by: string[];
  order: string;
  n: number;
  keep_last: boolean;
  kept_rows: number;
  kept: { [key: string]: unknown }[];
  keys: number;
}

/**
 * `state` of a keep-first deduplication: each key's earliest row, kept until the watermark
 * passes it.
 */
export interface DedupState {
  by: string[];
  order: string;
  n: number;
  keep_last: boolean;
  kept_rows: number;
  kept: { [key: string]: unknown }[];
  keys: number;
  emitted_keys: number;
  duplicates: number;
  late_ledger: { [key: string]: unknown }[];
}

/**
 * `state` of an OVER aggregation: the rows waiting for the watermark, and how many earlier
 * rows it keeps for their frames.
 */
export interface OverState {
  frame: string;
  by: string[];
  waiting_rows: number;
  waiting: { [key: string]: unknown }[];
  kept_for_windows: number;
  keys: number;
  counted: number;
  late_ledger: { [key: string]: unknown }[];
}

/** `state` of a window Top-N or deduplication: the rows kept until their window fires. */
export interface WindowRankState {
  window: string;
  by: string[];
  order: string;
  kept_rows: number;
  kept: { [key: string]: unknown }[];
  counted: number;
  late_ledger: { [key: string]: unknown }[];
}

/**
 * One input of a join in `state.left` / `state.right`: its watermark, the rows it holds (in
 * all and per key), and its conservation counters.
 */
export interface JoinSide {
  role: string;
  watermark: number | null;
  watermark_text: string | null;
  rows_in: number;
  held: number;
  keys_held: { [key: string]: number };
  errors: number;
  matched?: number;
  emitted_unmatched?: number;
  expired_unmatched?: number;
  late_arrivals?: number;
  counted?: number;
  late?: number;
  open_windows?: number;
  versions?: number;
  superseded?: number;
  null_keys?: number;
}

/** `state` of a join operator: its kind and both inputs (`left`, `right`). */
export interface JoinState {
  join: string;
  how: string;
  on: string[][];
  watermark_text: string | null;
  left: JoinSide;
  right: JoinSide;
  lower_ms?: number;
  upper_ms?: number;
  window?: string;
}

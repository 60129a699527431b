/**
 * Message types of the side-panel protocol (comm target `streamlab`).
 *
 * Mirrors `streamlab/comm/protocol.py`; `tests/test_protocol_version.py` checks that both
 * agree on PROTOCOL_VERSION and on every kind, action and error code. Change both files
 * together and bump the version on any incompatible change.
 */

/** Bumped on any incompatible change of the messages below. */
export const PROTOCOL_VERSION = 1;

/** The comm target the kernel registers (`%load_ext streamlab`). */
export const COMM_TARGET = 'streamlab';

/** Requests the front end may send. */
export const REQUEST_KINDS = [
  'hello',
  'list',
  'snapshot',
  'subscribe',
  'command'
] as const;

/** Kinds of a response to a request. */
export const RESPONSE_KINDS = ['reply', 'error'] as const;

/** Kinds of a message the kernel sends unasked. */
export const PUSH_KINDS = ['snapshots'] as const;

/** The only actions a `command` request may ask for. */
export const COMMAND_ACTIONS = [
  'start',
  'pause',
  'resume',
  'step',
  'stop'
] as const;

/** Every `code` an error response may carry. */
export const ERROR_CODES = [
  'bad_request',
  'version_mismatch',
  'unknown_kind',
  'unknown_pipeline',
  'unknown_action',
  'command_failed',
  'internal'
] as const;

/** Pipeline states, as the engine reports them. */
export const PIPELINE_STATES = [
  'idle',
  'running',
  'paused',
  'stopped',
  'finished',
  'failed'
] as const;

/** Shortest time between two pushes: at most four pushes a second. */
export const MIN_PUSH_INTERVAL_MS = 250;

export type RequestKind = (typeof REQUEST_KINDS)[number];
export type ResponseKind = (typeof RESPONSE_KINDS)[number];
export type PushKind = (typeof PUSH_KINDS)[number];
export type CommandAction = (typeof COMMAND_ACTIONS)[number];
export type ErrorCode = (typeof ERROR_CODES)[number];
export type PipelineState = (typeof PIPELINE_STATES)[number];
export type RequestId = string | number;

/* ----------------------------------------------------------------- requests */

interface IRequestBase {
  id: RequestId;
  version: number;
}

export interface IHelloRequest extends IRequestBase {
  kind: 'hello';
}

export interface IListRequest extends IRequestBase {
  kind: 'list';
}

export interface ISnapshotRequest extends IRequestBase {
  kind: 'snapshot';
  pipeline: string;
}

export interface ISubscribeRequest extends IRequestBase {
  kind: 'subscribe';
  visible: boolean;
}

export interface ICommandRequest extends IRequestBase {
  kind: 'command';
  pipeline: string;
  action: CommandAction;
}

export type Request =
  | IHelloRequest
  | IListRequest
  | ISnapshotRequest
  | ISubscribeRequest
  | ICommandRequest;

/** A request before the transport gives it an id and the version. */
export type RequestBody = Request extends infer R
  ? R extends Request
    ? Omit<R, 'id' | 'version'>
    : never
  : never;

/* ----------------------------------------------------------------- snapshots */

export interface ICounters {
  in: number;
  out: number;
  late: number;
  errors: number;
  [name: string]: number;
}

export interface IOpenWindow {
  key: unknown[];
  key_text: string;
  window_start: number;
  window_end: number;
  start_text: string;
  end_text: string;
  rows: number;
  partials: { [name: string]: unknown };
}

export interface IOperatorState {
  open_windows?: IOpenWindow[];
  open_count?: number;
  truncated?: boolean;
  late_ledger?: Array<{ [column: string]: unknown }>;
  errors?: Array<{ [column: string]: unknown }>;
  [name: string]: unknown;
}

export interface IOperatorSnapshot {
  id: string;
  kind: string;
  label: string;
  upstreams: string[];
  counters: Partial<ICounters>;
  events_per_s?: number | null;
  watermark?: number | null;
  state?: IOperatorState | null;
}

export interface IPipelineSnapshot {
  name: string;
  state: string;
  watermark?: number | null;
  watermark_text?: string | null;
  lag_ms?: number | null;
  counters?: Partial<ICounters>;
  events_per_s?: number | null;
  operators?: IOperatorSnapshot[];
  /** Set by the kernel when this pipeline's snapshot() failed. */
  error?: string;
}

export interface IPipelineSummary {
  name: string;
  state: string;
}

/* ----------------------------------------------------------------- responses */

interface IReplyBase {
  id: RequestId;
  kind: 'reply';
  version: number;
}

export interface IHelloReply extends IReplyBase {
  request: 'hello';
  protocol_version: number;
  streamlab_version: string | null;
  actions: CommandAction[];
  push_interval_ms: number;
  pipelines: IPipelineSummary[];
}

export interface IListReply extends IReplyBase {
  request: 'list';
  pipelines: IPipelineSummary[];
}

export interface ISnapshotReply extends IReplyBase {
  request: 'snapshot';
  snapshot: IPipelineSnapshot;
}

export interface ISubscribeReply extends IReplyBase {
  request: 'subscribe';
  subscribed: boolean;
  push_interval_ms: number;
}

export interface ICommandReply extends IReplyBase {
  request: 'command';
  pipeline: string;
  action: CommandAction;
  state: string;
  snapshot: IPipelineSnapshot;
}

export type Reply =
  | IHelloReply
  | IListReply
  | ISnapshotReply
  | ISubscribeReply
  | ICommandReply;

export interface IErrorResponse {
  id: RequestId | null;
  kind: 'error';
  version: number;
  code: ErrorCode;
  message: string;
  expected?: number;
  [field: string]: unknown;
}

export type Response = Reply | IErrorResponse;

/** The reply type that answers each request kind. */
export interface IReplyFor {
  hello: IHelloReply;
  list: IListReply;
  snapshot: ISnapshotReply;
  subscribe: ISubscribeReply;
  command: ICommandReply;
}

/* ----------------------------------------------------------------- pushes */

export interface ISnapshotsPush {
  kind: 'snapshots';
  version: number;
  seq: number;
  pipelines: IPipelineSnapshot[];
}

export type Push = ISnapshotsPush;

/* ----------------------------------------------------------------- guards */

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is a response (reply or error) to one of our requests. */
export function isResponse(value: unknown): value is Response {
  return (
    isObject(value) &&
    (value.kind === 'reply' || value.kind === 'error') &&
    'id' in value
  );
}

/** Whether `value` is an error response. */
export function isError(value: unknown): value is IErrorResponse {
  return isResponse(value) && value.kind === 'error';
}

/** Whether `value` is a well-formed snapshots push. */
export function isSnapshotsPush(value: unknown): value is ISnapshotsPush {
  return (
    isObject(value) &&
    value.kind === 'snapshots' &&
    Array.isArray(value.pipelines) &&
    value.pipelines.every(p => isObject(p) && typeof p.name === 'string')
  );
}

/** Whether `action` is one of the declared command actions. */
export function isCommandAction(action: unknown): action is CommandAction {
  return (COMMAND_ACTIONS as readonly unknown[]).includes(action);
}

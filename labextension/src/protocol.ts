/**
 * Message types of the side-panel protocol (comm target `streamlab`).
 *
 * Mirrors `streamlab/comm/protocol.py`; `tests/test_protocol_version.py` checks that both
 * agree on PROTOCOL_VERSION and on every kind and error code. Change both files together
 * and bump the version on any incompatible change.
 *
 * The pipeline states, the actions, the actions each state allows and the snapshot's shape
 * are not written here: they come from `generated.ts`, which
 * `python -m streamlab.comm.tsgen` writes from `streamlab/core/state.py` and
 * `streamlab/core/snapshot.py`.
 */
import { ACTIONS, PIPELINE_STATES } from './generated';
import type {
  Action,
  Counters,
  OpenWindow,
  OperatorSnapshot,
  PipelineSnapshot,
  PipelineState,
  SourceState,
  WatermarkState,
  WindowState
} from './generated';

export {
  ACTIONS,
  ALLOWED_ACTIONS,
  PIPELINE_STATES,
  TRANSITIONS
} from './generated';
export type {
  Action,
  Counters,
  InputSnapshot,
  OpenWindow,
  OperatorSnapshot,
  PipelineSnapshot,
  PipelineState,
  SourceState,
  WatermarkState,
  WindowState
} from './generated';

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

/** The only actions a `command` request may ask for: the declared user actions. */
export const COMMAND_ACTIONS = ACTIONS;

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

/** Shortest time between two pushes: at most four pushes a second. */
export const MIN_PUSH_INTERVAL_MS = 250;

export type RequestKind = (typeof REQUEST_KINDS)[number];
export type ResponseKind = (typeof RESPONSE_KINDS)[number];
export type PushKind = (typeof PUSH_KINDS)[number];
export type CommandAction = Action;
export type ErrorCode = (typeof ERROR_CODES)[number];
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

/* The declared shapes (generated.ts), under the names the panel has always used. */

/** Rows through one operator or the whole pipeline. */
export type ICounters = Counters;

/** One open (window, key) of a window operator. */
export type IOpenWindow = OpenWindow;

/** One operator of a snapshot. */
export type IOperatorSnapshot = OperatorSnapshot;

/**
 * An operator's `state` as the panel reads it: each kind declares its own (a window's,
 * a watermark's, a source's), so every declared field may be missing.
 */
export type IOperatorState = Partial<WindowState> &
  Partial<WatermarkState> &
  Partial<SourceState> & { [name: string]: unknown };

/**
 * A pipeline as the panel holds it: the declared snapshot, except that a pipeline only
 * listed by `hello`, or one whose `snapshot()` failed in the kernel (then `error` says
 * why), has no more than its name and state.
 */
export type IPipelineSnapshot = Pick<PipelineSnapshot, 'name' | 'state'> &
  Partial<PipelineSnapshot>;

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

/** Whether `state` is one of the declared pipeline states. */
export function isPipelineState(state: unknown): state is PipelineState {
  return (PIPELINE_STATES as readonly unknown[]).includes(state);
}

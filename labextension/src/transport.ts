/**
 * The only module that touches the kernel comm.
 *
 * A transport opens a comm to the `streamlab` target, sends typed requests with ids,
 * matches each response to its request, and re-emits the kernel's pushes as a signal.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  COMM_TARGET,
  IReplyFor,
  isResponse,
  isSnapshotsPush,
  Push,
  PROTOCOL_VERSION,
  Request,
  RequestBody,
  RequestId,
  RequestKind,
  Response
} from './protocol';

/** Why a request failed: a kernel error code, or a transport problem. */
export type FailureCode =
  | Extract<Response, { kind: 'error' }>['code']
  | 'closed'
  | 'timeout'
  | 'not-open';

/** A request that did not get a reply. */
export class RequestError extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly response?: Response
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** What the model needs from a connection to one kernel. */
export interface IStreamlabTransport extends IDisposable {
  /**
   * Open the comm. Resolves true once the kernel accepted it, false when the kernel has
   * no `streamlab` target (streamlab is not loaded there).
   */
  open(): Promise<boolean>;

  /** Send one request; resolves with its reply, rejects with a RequestError. */
  request<K extends RequestKind>(
    body: Extract<RequestBody, { kind: K }>
  ): Promise<IReplyFor[K]>;

  /** Whether the comm is open. */
  readonly isOpen: boolean;

  /** Messages the kernel sent unasked. */
  readonly pushed: ISignal<IStreamlabTransport, Push>;

  /** Emitted once when the comm closes, from either side. */
  readonly closed: ISignal<IStreamlabTransport, void>;
}

/** Options of a CommTransport. */
export interface ICommTransportOptions {
  /** How long to wait for a reply; the kernel may be busy running a cell. */
  timeoutMs?: number;
}

interface IPending {
  kind: RequestKind;
  resolve: (reply: any) => void;
  reject: (error: RequestError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A transport over a Jupyter comm of a kernel connection.
 */
export class CommTransport implements IStreamlabTransport {
  constructor(
    readonly kernel: Pick<Kernel.IKernelConnection, 'createComm'>,
    options: ICommTransportOptions = {}
  ) {
    this._timeoutMs = options.timeoutMs ?? 30000;
  }

  get isOpen(): boolean {
    return this._comm !== null && !this._isClosed && !this._isDisposed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get pushed(): ISignal<IStreamlabTransport, Push> {
    return this._pushed;
  }

  get closed(): ISignal<IStreamlabTransport, void> {
    return this._closed;
  }

  async open(): Promise<boolean> {
    if (this._isDisposed || this._comm !== null) {
      throw new Error('a CommTransport opens once');
    }
    const comm = this.kernel.createComm(COMM_TARGET);
    this._comm = comm;
    // Keep our messages on the main shell: the kernel side must run on the kernel's own
    // loop, and the subshell thread is not it.
    Private.disableSubshells(comm);
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      this._receive(msg.content.data);
    };
    comm.onClose = () => {
      this._markClosed('the kernel closed the streamlab comm');
    };
    try {
      await comm.open({ version: PROTOCOL_VERSION }).done;
    } catch (reason) {
      this._markClosed(`opening the streamlab comm failed: ${reason}`);
      return false;
    }
    // The kernel answers an unknown target by closing the comm before it goes idle.
    return this.isOpen;
  }

  request<K extends RequestKind>(
    body: Extract<RequestBody, { kind: K }>
  ): Promise<IReplyFor[K]> {
    if (!this.isOpen || this._comm === null) {
      return Promise.reject(
        new RequestError('not-open', 'the streamlab comm is not open')
      );
    }
    const id: RequestId = ++this._lastId;
    const message = { ...body, id, version: PROTOCOL_VERSION } as Request;
    return new Promise<IReplyFor[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(
          new RequestError(
            'timeout',
            `no reply to '${body.kind}' after ${this._timeoutMs / 1000} s (is the kernel busy?)`
          )
        );
      }, this._timeoutMs);
      this._pending.set(id, { kind: body.kind, resolve, reject, timer });
      try {
        this._comm!.send(message as any);
      } catch (reason) {
        clearTimeout(timer);
        this._pending.delete(id);
        reject(new RequestError('closed', `sending failed: ${reason}`));
      }
    });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    const comm = this._comm;
    const wasOpen = this.isOpen;
    this._isDisposed = true;
    this._markClosed('the panel closed the streamlab comm');
    if (comm && wasOpen && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone already
      }
    }
    Signal.clearData(this);
  }

  private _receive(data: unknown): void {
    if (isResponse(data)) {
      const pending =
        data.id === null ? undefined : this._pending.get(data.id as RequestId);
      if (pending === undefined) {
        console.warn('streamlab: a response to no pending request', data);
        return;
      }
      this._pending.delete(data.id as RequestId);
      clearTimeout(pending.timer);
      if (data.kind === 'error') {
        pending.reject(new RequestError(data.code, data.message, data));
      } else {
        pending.resolve(data);
      }
      return;
    }
    if (isSnapshotsPush(data)) {
      this._pushed.emit(data);
      return;
    }
    console.warn('streamlab: ignoring an unexpected message', data);
  }

  private _markClosed(reason: string): void {
    if (this._isClosed) {
      return;
    }
    this._isClosed = true;
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new RequestError('closed', reason));
    }
    if (!this._isDisposed) {
      this._closed.emit(undefined);
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _isClosed = false;
  private _isDisposed = false;
  private _lastId = 0;
  private _pending = new Map<RequestId, IPending>();
  private _timeoutMs: number;
  private _pushed = new Signal<IStreamlabTransport, Push>(this);
  private _closed = new Signal<IStreamlabTransport, void>(this);
}

namespace Private {
  /**
   * Send this comm's messages on the main shell (services >= 7.5 may route comms over
   * kernel subshells, which run on another thread of the kernel).
   */
  export function disableSubshells(comm: Kernel.IComm): void {
    if ('commsOverSubshells' in comm) {
      (comm as { commsOverSubshells?: unknown }).commsOverSubshells = 'disabled';
    }
  }
}

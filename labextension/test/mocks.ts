/**
 * A mocked transport for the model (no kernel), and a fake kernel comm for the
 * transport, in the spirit of jupyterlab-git's mockedRequestAPI.
 */
import { Signal } from '@lumino/signaling';

import {
  IErrorResponse,
  IReplyFor,
  Push,
  PROTOCOL_VERSION,
  RequestBody,
  RequestKind
} from '../src/protocol';
import { IStreamlabTransport, RequestError } from '../src/transport';

type Answer = (body: any) => any;

/** A transport whose answers are canned per request kind. */
export class MockTransport implements IStreamlabTransport {
  constructor(
    readonly answers: Partial<Record<RequestKind, Answer>> = {},
    readonly accepts = true
  ) {}

  requests: RequestBody[] = [];
  isDisposed = false;
  opened = false;
  pushed: Signal<IStreamlabTransport, Push> = new Signal(this);
  closed: Signal<IStreamlabTransport, void> = new Signal(this);

  get isOpen(): boolean {
    return this.opened && !this.isDisposed;
  }

  async open(): Promise<boolean> {
    this.opened = this.accepts;
    return this.accepts;
  }

  request<K extends RequestKind>(
    body: Extract<RequestBody, { kind: K }>
  ): Promise<IReplyFor[K]> {
    this.requests.push(body);
    const answer = this.answers[body.kind];
    if (!answer) {
      return Promise.resolve({
        kind: 'reply',
        request: body.kind,
        version: PROTOCOL_VERSION,
        id: this.requests.length
      } as any);
    }
    try {
      const result = answer(body);
      if (result instanceof Promise) {
        return result;
      }
      if (result && result.kind === 'error') {
        const error = result as IErrorResponse;
        return Promise.reject(
          new RequestError(error.code, error.message, error)
        );
      }
      return Promise.resolve({ id: this.requests.length, ...result });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  kinds(): string[] {
    return this.requests.map(r => r.kind);
  }

  emitPush(push: Push): void {
    this.pushed.emit(push);
  }

  closeFromKernel(): void {
    this.closed.emit(undefined);
  }

  dispose(): void {
    this.isDisposed = true;
  }
}

/** A fake comm: records what the transport sends, lets the test answer. */
export class FakeComm {
  constructor(
    readonly targetName: string,
    private readonly kernel: FakeKernel
  ) {}

  readonly commId = 'comm-1';
  commsOverSubshells: string = 'perCommTarget';
  onMsg: (msg: any) => void = () => undefined;
  onClose: (msg: any) => void = () => undefined;
  sent: any[] = [];
  openData: any = undefined;
  closedByPanel = false;
  isDisposed = false;

  open(data: any) {
    this.openData = data;
    const done = (async () => {
      await Promise.resolve();
      if (!this.kernel.hasTarget) {
        // what ipykernel does for an unknown target: comm_close before idle
        this.onClose({ content: { comm_id: this.commId, data: {} } });
        this.isDisposed = true;
      }
      return {};
    })();
    return { done };
  }

  send(data: any) {
    if (this.isDisposed) {
      throw new Error('Comm is closed');
    }
    this.sent.push(data);
    return { done: Promise.resolve({}) };
  }

  close() {
    this.closedByPanel = true;
    this.isDisposed = true;
    return { done: Promise.resolve({}) };
  }

  /** The kernel sends `data` on the comm. */
  receive(data: any): void {
    this.onMsg({ content: { comm_id: this.commId, data } });
  }

  /** The kernel closes the comm (restart, shutdown). */
  closeFromKernel(): void {
    this.onClose({ content: { comm_id: this.commId, data: {} } });
    this.isDisposed = true;
  }
}

export class FakeKernel {
  constructor(readonly hasTarget = true) {}
  comms: FakeComm[] = [];

  createComm(targetName: string): any {
    const comm = new FakeComm(targetName, this);
    this.comms.push(comm);
    return comm;
  }
}

/** Let pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

/**
 * The side panel's state: the connection to the active kernel and its pipelines.
 *
 * The model owns at most one transport. It says hello, subscribes to pushes while the
 * panel is visible, applies pushes and command replies, and reconnects after the comm
 * closes (kernel restart) or when streamlab gets loaded later.
 */
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  CommandAction,
  IPipelineSnapshot,
  IPipelineSummary,
  ISnapshotsPush,
  PROTOCOL_VERSION
} from './protocol';
import { IStreamlabTransport, RequestError } from './transport';

/** Where the connection to the active kernel stands. */
export type ConnectionStatus =
  /** No notebook (or its kernel) is active. */
  | 'no-kernel'
  /** Opening the comm and saying hello. */
  | 'connecting'
  /** The kernel has no `streamlab` comm target: `%load_ext streamlab` was not run. */
  | 'not-enabled'
  /** Talking to the kernel. */
  | 'connected'
  /** The kernel's streamlab speaks another protocol version. */
  | 'version-mismatch'
  /** The comm closed (kernel restart); reconnecting. */
  | 'disconnected'
  /** Something else went wrong; see `message`. */
  | 'error';

/** Creates a transport to the active kernel. */
export type TransportFactory = () => IStreamlabTransport;

/**
 * The state of the side panel.
 *
 * It does not poll: whoever owns it calls `connect()` when the kernel may have gained
 * streamlab (after code ran, after a restart), so a kernel without streamlab is not
 * asked over and over.
 */
export class StreamlabModel implements IDisposable {
  /** Emitted whenever anything shown changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): ConnectionStatus {
    return this._status;
  }

  /** A human-readable detail for the status (an error, the version mismatch). */
  get message(): string {
    return this._message;
  }

  /** The last command error, cleared by the next command. */
  get commandError(): string {
    return this._commandError;
  }

  /** What the panel follows, e.g. the notebook's name. */
  get label(): string {
    return this._label;
  }

  /** The kernel's streamlab version, once connected. */
  get kernelVersion(): string | null {
    return this._kernelVersion;
  }

  /** Every pipeline in the kernel, in the kernel's order. */
  get pipelines(): ReadonlyArray<IPipelineSnapshot> {
    return this._pipelines;
  }

  /** Number of pushes applied since the last connect. */
  get pushCount(): number {
    return this._pushCount;
  }

  get visible(): boolean {
    return this._visible;
  }

  /** Whether the model is not connected but could try. */
  get canRetry(): boolean {
    return (
      this._factory !== null &&
      (this._status === 'not-enabled' ||
        this._status === 'disconnected' ||
        this._status === 'error')
    );
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The pipeline named `name`, if any. */
  pipeline(name: string): IPipelineSnapshot | undefined {
    return this._pipelines.find(p => p.name === name);
  }

  /** The command still waiting for its reply on pipeline `name`. */
  pendingCommand(name: string): CommandAction | undefined {
    return this._pending.get(name);
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  toggleExpanded(name: string): void {
    if (!this._expanded.delete(name)) {
      this._expanded.add(name);
    }
    this._changed.emit();
  }

  /**
   * Follow another kernel (null: none). Drops the current connection and connects.
   */
  async setKernel(
    factory: TransportFactory | null,
    label: string = ''
  ): Promise<void> {
    this._factory = factory;
    this._label = label;
    this._drop(factory === null ? 'no-kernel' : 'disconnected');
    if (factory !== null) {
      await this.connect();
    }
  }

  /**
   * The kernel is restarting: show no pipelines, and reconnect once it is back.
   */
  reset(): void {
    this._drop(this._factory === null ? 'no-kernel' : 'disconnected');
  }

  /**
   * Connect if not connected (or connecting) and the panel is visible: a hidden panel
   * does not bother the kernel. Safe to call often, e.g. whenever code ran in the
   * kernel: that is how the panel notices a `%load_ext streamlab`.
   */
  async connect(): Promise<void> {
    const factory = this._factory;
    if (
      factory === null ||
      this._isDisposed ||
      !this._visible ||
      this._status === 'connected' ||
      this._status === 'connecting'
    ) {
      return;
    }
    const generation = ++this._generation;
    const transport = factory();
    this._transport = transport;
    this._set('connecting');
    const current = () =>
      generation === this._generation && this._transport === transport;
    try {
      const opened = await transport.open();
      if (!current()) {
        transport.dispose();
        return;
      }
      if (!opened) {
        this._drop('not-enabled');
        return;
      }
      transport.closed.connect(() => {
        if (current()) {
          this._drop('disconnected');
        }
      });
      transport.pushed.connect((_, push) => {
        if (current()) {
          this._applyPush(push);
        }
      });
      const hello = await transport.request({ kind: 'hello' });
      if (!current()) {
        return;
      }
      this._kernelVersion = hello.streamlab_version;
      this._pipelines = hello.pipelines.map((p: IPipelineSummary) => ({
        name: p.name,
        state: p.state
      }));
      this._pushCount = 0;
      this._set('connected');
      if (this._visible) {
        await this._subscribe(true);
      }
    } catch (reason) {
      if (!current()) {
        return;
      }
      if (reason instanceof RequestError && reason.code === 'version_mismatch') {
        const kernel = (reason.response as { expected?: number })?.expected;
        this._drop(
          'version-mismatch',
          `The kernel's streamlab speaks protocol ${kernel ?? '?'}, this panel speaks ` +
            `${PROTOCOL_VERSION}. Install the same streamlab version in both.`
        );
      } else if (reason instanceof RequestError && reason.code === 'closed') {
        this._drop('disconnected');
      } else {
        this._drop('error', Private.describe(reason));
      }
    }
  }

  /**
   * The panel was shown or hidden: the kernel pushes only while it is visible.
   */
  async setVisible(visible: boolean): Promise<void> {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    this._changed.emit();
    if (this._status === 'connected') {
      await this._subscribe(visible);
    } else if (visible && this.canRetry) {
      await this.connect();
    }
  }

  /**
   * Ask the kernel to pause, resume, step, stop or start pipeline `name`.
   * Resolves true when the kernel did it; false (and `commandError`) otherwise.
   */
  async command(name: string, action: CommandAction): Promise<boolean> {
    const transport = this._transport;
    if (this._status !== 'connected' || transport === null) {
      this._commandError = 'Not connected to a kernel with streamlab loaded.';
      this._changed.emit();
      return false;
    }
    this._commandError = '';
    this._pending.set(name, action);
    this._changed.emit();
    try {
      const reply = await transport.request({
        kind: 'command',
        pipeline: name,
        action
      });
      if (transport === this._transport) {
        this._applySnapshot(reply.snapshot);
      }
      return true;
    } catch (reason) {
      if (transport === this._transport) {
        this._commandError = `${action} ${name}: ${Private.describe(reason)}`;
      }
      return false;
    } finally {
      this._pending.delete(name);
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._drop('no-kernel');
    Signal.clearData(this);
  }

  /* ------------------------------------------------------------- internals */

  private async _subscribe(visible: boolean): Promise<void> {
    const transport = this._transport;
    if (transport === null) {
      return;
    }
    try {
      await transport.request({ kind: 'subscribe', visible });
    } catch (reason) {
      if (transport === this._transport && this._status === 'connected') {
        this._message = Private.describe(reason);
        this._changed.emit();
      }
    }
  }

  private _applyPush(push: ISnapshotsPush): void {
    if (push.seq <= this._lastSeq) {
      return; // an old push overtaken by a newer one
    }
    this._lastSeq = push.seq;
    this._pushCount += 1;
    this._pipelines = push.pipelines;
    this._changed.emit();
  }

  private _applySnapshot(snapshot: IPipelineSnapshot): void {
    const index = this._pipelines.findIndex(p => p.name === snapshot.name);
    if (index < 0) {
      this._pipelines = [...this._pipelines, snapshot];
    } else {
      const next = [...this._pipelines];
      next[index] = snapshot;
      this._pipelines = next;
    }
  }

  /** Forget the transport and every pipeline, and show `status`. */
  private _drop(status: ConnectionStatus, message: string = ''): void {
    this._generation += 1;
    const transport = this._transport;
    this._transport = null;
    transport?.dispose();
    this._pipelines = [];
    this._pending.clear();
    this._lastSeq = 0;
    this._pushCount = 0;
    this._kernelVersion = null;
    this._commandError = '';
    this._set(status, message);
  }

  private _set(status: ConnectionStatus, message: string = ''): void {
    this._status = status;
    this._message = message;
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _commandError = '';
  private _expanded = new Set<string>();
  private _factory: TransportFactory | null = null;
  private _generation = 0;
  private _isDisposed = false;
  private _kernelVersion: string | null = null;
  private _label = '';
  private _lastSeq = 0;
  private _message = '';
  private _pending = new Map<string, CommandAction>();
  private _pipelines: IPipelineSnapshot[] = [];
  private _pushCount = 0;
  private _status: ConnectionStatus = 'no-kernel';
  private _transport: IStreamlabTransport | null = null;
  private _visible = false;
}

namespace Private {
  export function describe(reason: unknown): string {
    if (reason instanceof Error) {
      return reason.message;
    }
    return String(reason);
  }
}

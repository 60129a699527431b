/**
 * Following the active notebook's kernel: the side panel shows the pipelines of the
 * kernel of whichever notebook is current, and switches when the user switches.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';

import { StreamlabModel } from './model';
import { CommTransport } from './transport';

/**
 * Keep `model` on the kernel of the tracker's current notebook, now and whenever the
 * current notebook changes.
 */
export function followActiveNotebook(
  tracker: Pick<INotebookTracker, 'currentChanged' | 'currentWidget'>,
  model: StreamlabModel
): KernelFollower {
  const follower = new KernelFollower(model);
  tracker.currentChanged.connect((_, notebook) => follower.follow(notebook));
  follower.follow(tracker.currentWidget);
  return follower;
}

/**
 * Keeps the model on the kernel of the active notebook: switches when the notebook
 * or its kernel changes, empties on restart, and tries to connect again whenever code
 * finished running in the kernel (that is how a later `%load_ext streamlab` is
 * noticed) and once the kernel is back from a restart. It never polls a kernel that
 * has no streamlab.
 */
export class KernelFollower {
  constructor(readonly model: StreamlabModel) {}

  follow(notebook: NotebookPanel | null): void {
    const context = notebook?.sessionContext ?? null;
    if (context === this._context) {
      return;
    }
    if (this._context) {
      this._context.kernelChanged.disconnect(this._onKernelChanged, this);
      this._context.statusChanged.disconnect(this._onStatusChanged, this);
      this._context.iopubMessage.disconnect(this._onIOPub, this);
    }
    this._context = context;
    this._label = notebook?.title.label ?? '';
    if (context) {
      context.kernelChanged.connect(this._onKernelChanged, this);
      context.statusChanged.connect(this._onStatusChanged, this);
      context.iopubMessage.connect(this._onIOPub, this);
      void context.ready.then(() => {
        if (context === this._context) {
          this._useKernel(context.session?.kernel ?? null);
        }
      });
    } else {
      this._useKernel(null);
    }
  }

  private _onKernelChanged(context: ISessionContext): void {
    this._useKernel(context.session?.kernel ?? null);
  }

  private _onStatusChanged(
    context: ISessionContext,
    status: Kernel.Status
  ): void {
    if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'dead'
    ) {
      this._restarted = true;
      this.model.reset();
    } else if (status === 'idle' && this._restarted) {
      this._restarted = false;
      void this.model.connect();
    }
  }

  /** Code ran in the kernel (from any client): streamlab may be loaded now. */
  private _onIOPub(_: ISessionContext, msg: KernelMessage.IMessage): void {
    if (
      msg.header.msg_type === 'status' &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle' &&
      (msg.parent_header as Partial<KernelMessage.IHeader>)?.msg_type ===
        'execute_request' &&
      this.model.canRetry
    ) {
      void this.model.connect();
    }
  }

  private _useKernel(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this._kernel && kernel !== null) {
      return;
    }
    this._kernel = kernel;
    void this.model.setKernel(
      kernel ? () => new CommTransport(kernel) : null,
      this._label
    );
  }

  private _context: ISessionContext | null = null;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _label = '';
  private _restarted = false;
}

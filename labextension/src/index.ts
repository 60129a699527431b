/**
 * streamlab's JupyterLab extension: a left side panel with every pipeline running in
 * the active notebook's kernel, live, over the versioned `streamlab` comm.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';

import { StreamlabModel } from './model';
import { StreamlabPanel } from './panel';
import { CommTransport } from './transport';

export { StreamlabModel } from './model';
export { StreamlabPanel } from './panel';
export { CommTransport } from './transport';
export * from './protocol';

/** The command ids of the extension. */
export namespace CommandIDs {
  export const open = 'streamlab:open-panel';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'streamlab:panel',
  description: 'A side panel with the live pipelines of the active kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null
  ) => {
    const model = new StreamlabModel();
    const panel = new StreamlabPanel(model);
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'streamlab-panel');

    app.commands.addCommand(CommandIDs.open, {
      label: 'Show streamlab Pipelines',
      caption: 'Open the streamlab side panel',
      execute: () => {
        if (labShell) {
          labShell.activateById(panel.id);
        } else {
          app.shell.activateById(panel.id);
        }
      }
    });

    const follower = new Private.KernelFollower(model);
    tracker.currentChanged.connect((_, notebook) => follower.follow(notebook));
    follower.follow(tracker.currentWidget);

    const onVisibility = () => {
      void model.setVisible(!document.hidden && panel.isVisible);
    };
    document.addEventListener('visibilitychange', onVisibility);
  }
};

export default plugin;

namespace Private {
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
}

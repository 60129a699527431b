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
import { INotebookTracker } from '@jupyterlab/notebook';

import { followActiveNotebook } from './follow';
import { StreamlabModel } from './model';
import { StreamlabPanel } from './panel';

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

    followActiveNotebook(tracker, model);

    const onVisibility = () => {
      void model.setVisible(!document.hidden && panel.isVisible);
    };
    document.addEventListener('visibilitychange', onVisibility);
  }
};

export default plugin;

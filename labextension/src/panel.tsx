/**
 * The side panel widget: a ReactWidget that renders the model and tells it when it is
 * shown or hidden (the kernel pushes only while it is visible).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { LabIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { StreamlabView } from './components';
import { StreamlabModel } from './model';

/** The panel's icon: three staggered event streams and a window. */
export const streamlabIcon = new LabIcon({
  name: 'streamlab:panel',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="4" cy="6" r="1.6"/><circle cx="9" cy="6" r="1.6"/><circle cx="17" cy="6" r="1.6"/>
    <circle cx="6" cy="12" r="1.6"/><circle cx="13" cy="12" r="1.6"/><circle cx="20" cy="12" r="1.6"/>
    <circle cx="3" cy="18" r="1.6"/><circle cx="11" cy="18" r="1.6"/><circle cx="15" cy="18" r="1.6"/>
    <path d="M7.5 2.5h8v19h-8z" fill="none" stroke="#616161" stroke-width="1.5"/>
  </g>
</svg>`
});

/**
 * The streamlab side panel.
 */
export class StreamlabPanel extends ReactWidget {
  constructor(readonly model: StreamlabModel) {
    super();
    this.addClass('jp-Streamlab');
    this.id = 'streamlab-panel';
    this.title.icon = streamlabIcon;
    this.title.caption = 'streamlab: live pipelines';
    this.title.label = '';
    model.changed.connect(this._onModelChanged, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    void this.model.setVisible(false);
    super.dispose();
  }

  protected render(): React.ReactElement {
    return <StreamlabView model={this.model} />;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.model.setVisible(true);
    this.update();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    void this.model.setVisible(false);
  }

  private _onModelChanged(): void {
    if (this.isVisible) {
      this.update();
    }
  }
}

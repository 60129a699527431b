/**
 * @jest-environment jsdom
 */
import * as React from 'react';
import { act } from 'react';

import {
  allowedActions,
  formatCount,
  formatWindow,
  formatLag,
  formatValue,
  StreamlabView
} from '../src/components';
import { ALLOWED_ACTIONS, PIPELINE_STATES } from '../src/generated';
import { StreamlabModel } from '../src/model';
import { PROTOCOL_VERSION } from '../src/protocol';
import { EVIL_KEY, hello, MockTransport, push, snapshot } from './helpers';
import { container, mountEachTest, root } from './dom';

mountEachTest();

function render(model: StreamlabModel): void {
  act(() => root.render(<StreamlabView model={model} />));
}

async function connectedModel(snapshots = [snapshot()]) {
  const transport = new MockTransport({ hello: () => hello() });
  const model = new StreamlabModel();
  await model.setVisible(true);
  await model.setKernel(() => transport, 'demo.ipynb');
  transport.emitPush(push(1, snapshots));
  return { model, transport };
}

function button(text: string): HTMLButtonElement {
  const found = [...container.querySelectorAll('button')].find(
    b => b.textContent === text
  );
  if (!found) {
    throw new Error(`no button ${text}`);
  }
  return found as HTMLButtonElement;
}

describe('StreamlabView', () => {
  it('tells how to enable the panel when streamlab is not loaded', async () => {
    const model = new StreamlabModel();
    await model.setVisible(true);
    await model.setKernel(() => new MockTransport({}, false));
    render(model);
    const status = container.querySelector('[role="status"]')!;
    expect(status.textContent).toContain('No pipelines');
    expect(status.textContent).toContain('%load_ext streamlab');
  });

  it('shows each pipeline’s name, state and live counters', async () => {
    const { model } = await connectedModel();
    render(model);
    const section = container.querySelector('section[aria-label="pipeline demo"]')!;
    expect(section).not.toBeNull();
    const metrics = Object.fromEntries(
      [...section.querySelectorAll('.jp-Streamlab-metrics tr')].map(tr => [
        tr.querySelector('th')!.textContent,
        tr.querySelector('td')!.textContent
      ])
    );
    expect(metrics).toEqual({
      state: 'running',
      'events in': '1,200',
      'events/s': '987.5/s',
      watermark: '2023-11-14T22:13:20.000Z',
      lag: '512 ms',
      late: '3',
      errors: '1'
    });
  });

  it('renders HTML-looking names, keys and values as text', async () => {
    const { model } = await connectedModel([snapshot({ name: EVIL_KEY })]);
    model.toggleExpanded(EVIL_KEY);
    render(model);
    expect(container.querySelector('img')).toBeNull();
    expect(container.textContent).toContain(EVIL_KEY);
    expect(container.textContent).toContain(`${EVIL_KEY}s1`); // open window key
    expect(container.textContent).toContain(`${EVIL_KEY}s2`); // late ledger row
    expect(container.innerHTML).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('expands a pipeline to its operators, open windows and late ledger', async () => {
    const { model } = await connectedModel();
    render(model);
    expect(container.querySelector('.jp-Streamlab-details')).toBeNull();
    const toggle = container.querySelector('button[aria-expanded]') as HTMLButtonElement;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    act(() => toggle.click());
    render(model);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const details = container.querySelector('.jp-Streamlab-details')!;
    expect(details.querySelectorAll('.jp-Streamlab-operator')).toHaveLength(2);
    expect(details.textContent).toContain('Tumble(1s) by sensor');
    expect(details.textContent).toContain('from op-1');
    const captions = [...details.querySelectorAll('caption')].map(c => c.textContent);
    expect(captions).toEqual(['Open windows (1)', 'Late ledger (1)', 'Errors (1)']);
    const headers = [...details.querySelectorAll('table')[0].querySelectorAll('th')].map(
      th => th.textContent
    );
    expect(headers).toEqual(['key', 'window', 'rows', 'avg']);
    expect(details.textContent).toContain('21.5');
    expect(details.textContent).toContain('window already fired');
  });

  it('enables only the commands that fit the state, and sends them', async () => {
    const { model, transport } = await connectedModel();
    render(model);
    expect(button('Pause').disabled).toBe(false);
    expect(button('Stop').disabled).toBe(false);
    expect(button('Resume').disabled).toBe(true);
    expect(button('Start').disabled).toBe(true);
    await act(async () => button('Pause').click());
    expect(transport.requests).toContainEqual({
      kind: 'command',
      pipeline: 'demo',
      action: 'pause'
    });
  });

  it.each([
    ['idle', ['Start', 'Step', 'Reset']],
    ['running', ['Pause', 'Stop', 'Reset']],
    ['paused', ['Resume', 'Step', 'Stop', 'Reset']],
    ['stopped', ['Start', 'Step', 'Reset']],
    ['finished', ['Reset']],
    ['failed', ['Reset']],
    ['weird', []]
  ])('enables the buttons the table allows when %s', async (state, enabled) => {
    const { model } = await connectedModel([snapshot({ state })]);
    render(model);
    const controls = [
      ...container.querySelectorAll('[role="toolbar"] button')
    ] as HTMLButtonElement[];
    expect(controls.map(b => b.textContent)).toEqual([
      'Start',
      'Pause',
      'Resume',
      'Step',
      'Stop',
      'Reset'
    ]);
    expect(controls.filter(b => !b.disabled).map(b => b.textContent)).toEqual(
      enabled
    );
  });

  it('sends reset for a failed pipeline, its only enabled command', async () => {
    const transport = new MockTransport({
      hello: () => hello(),
      command: () => ({
        kind: 'reply',
        request: 'command',
        version: PROTOCOL_VERSION,
        pipeline: 'demo',
        action: 'reset',
        state: 'idle',
        snapshot: snapshot({ state: 'idle' })
      })
    });
    const model = new StreamlabModel();
    await model.setVisible(true);
    await model.setKernel(() => transport);
    transport.emitPush(push(1, [snapshot({ state: 'failed', error: 'boom' })]));
    render(model);
    expect(button('Step').disabled).toBe(true);
    expect(button('Start').disabled).toBe(true);
    await act(async () => button('Reset').click());
    render(model);
    expect(transport.requests).toContainEqual({
      kind: 'command',
      pipeline: 'demo',
      action: 'reset'
    });
    expect(button('Start').disabled).toBe(false);
    expect(button('Reset').disabled).toBe(false);
  });

  it('shows a kernel error from a command as an alert', async () => {
    const transport = new MockTransport({
      hello: () => hello(),
      command: () => ({
        kind: 'error',
        code: 'command_failed',
        message: `stop failed: ${EVIL_KEY}`
      })
    });
    const model = new StreamlabModel();
    await model.setVisible(true);
    await model.setKernel(() => transport);
    transport.emitPush(push(1));
    render(model);
    await act(async () => button('Stop').click());
    render(model);
    const alert = container.querySelector('[role="alert"]')!;
    expect(alert.textContent).toContain(`stop failed: ${EVIL_KEY}`);
    expect(container.querySelector('img')).toBeNull();
  });

  it('says when a connected kernel has no pipelines', async () => {
    const { model } = await connectedModel([]);
    render(model);
    expect(container.querySelector('[role="status"]')!.textContent).toContain(
      'No pipelines in this kernel yet'
    );
  });
});

describe('formatting', () => {
  it('formats counts, lags and values', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(undefined)).toBe('–');
    expect(formatLag(250)).toBe('250 ms');
    expect(formatLag(2500)).toBe('2.50 s');
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(formatValue(null)).toBe('–');
    expect(formatValue('x'.repeat(300))).toHaveLength(300);
    expect(formatValue({ long: 'x'.repeat(300) })).toHaveLength(200);
  });

  it('writes a window’s date once when both ends share it', () => {
    expect(
      formatWindow(0, 0, '2023-11-14T22:13:20.000Z', '2023-11-14T22:13:21.000Z')
    ).toBe('2023-11-14 22:13:20.000–22:13:21.000');
    expect(
      formatWindow(0, 0, '2023-11-14T23:59:59.000Z', '2023-11-15T00:00:00.000Z')
    ).toBe('2023-11-14T23:59:59.000Z – 2023-11-15T00:00:00.000Z');
    expect(formatWindow(1000, 2000, '1000', '2000')).toBe('1000 – 2000');
  });

  it('allows the commands of the declared table, and none in an unknown state', () => {
    for (const state of PIPELINE_STATES) {
      expect([...allowedActions(state)]).toEqual([...ALLOWED_ACTIONS[state]]);
    }
    expect([...allowedActions('running')].sort()).toEqual(['pause', 'reset', 'stop']);
    expect([...allowedActions('failed')]).toEqual(['reset']);
    expect(allowedActions('weird').size).toBe(0);
    expect(allowedActions(undefined).size).toBe(0);
  });
});

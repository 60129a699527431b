/**
 * @jest-environment jsdom
 */
import * as React from 'react';
import { act } from 'react';

import { StreamlabView } from '../src/components';
import { flinkJob, safeUrl } from '../src/flink';
import type { FlinkJobSnapshot } from '../src/generated';
import { StreamlabModel } from '../src/model';
import type { IPipelineSnapshot } from '../src/protocol';
import { EVIL_KEY, hello, MockTransport, push, snapshot } from './helpers';
import { container, mountEachTest, root } from './dom';

mountEachTest();

/** A run on Flink as FlinkRun.snapshot() gives it (typed by the generated declaration). */
function flinkSnapshot(
  job: Partial<FlinkJobSnapshot> = {},
  overrides: Partial<IPipelineSnapshot> = {}
): IPipelineSnapshot {
  const flink: FlinkJobSnapshot = {
    job_id: '5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50',
    job_state: 'RUNNING',
    web_url:
      'http://127.0.0.1:40123/#/job/running/5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50/overview',
    cluster_url: 'http://127.0.0.1:40123',
    records_in: 12345,
    records_out: 678,
    rows: 600,
    late: 9,
    changelog: false,
    actions: ['stop'],
    ...job
  };
  return {
    name: 'frame-1@flink',
    state: 'running',
    watermark: null,
    watermark_text: null,
    lag_ms: null,
    counters: { in: flink.records_in, out: flink.rows, late: flink.late, errors: 0 },
    events_per_s: 0,
    operators: [],
    flink,
    ...overrides
  };
}

async function connected(snapshots: IPipelineSnapshot[]) {
  const transport = new MockTransport({ hello: () => hello() });
  const model = new StreamlabModel();
  await model.setVisible(true);
  await model.setKernel(() => transport, 'demo.ipynb');
  transport.emitPush(push(1, snapshots));
  act(() => root.render(<StreamlabView model={model} />));
  return { model, transport };
}

function flinkCard(): HTMLElement {
  const card = container.querySelector('.jp-Streamlab-flink');
  if (!card) {
    throw new Error('no Flink job card');
  }
  return card as HTMLElement;
}

describe('a Flink job in the panel', () => {
  it('shows the job id as a link to the web UI, Flink state and record counts', async () => {
    await connected([snapshot(), flinkSnapshot()]);
    expect(container.querySelectorAll('.jp-Streamlab-pipeline')).toHaveLength(2);
    const card = flinkCard();
    const link = card.querySelector('a.jp-Streamlab-flinkLink') as HTMLAnchorElement;
    expect(link.textContent).toBe('5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50');
    expect(link.href).toContain('/#/job/running/5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50');
    expect(link.target).toBe('_blank');
    const cells = Object.fromEntries(
      [...card.querySelectorAll('tr')].map(tr => [
        tr.querySelector('th')?.textContent,
        tr.querySelector('td')?.textContent
      ])
    );
    expect(cells['Flink state']).toBe('RUNNING');
    expect(cells['records in']).toBe('12,345');
    expect(cells['records out']).toBe('678');
    expect(cells['rows received']).toBe('600');
    expect(card.getAttribute('data-job-id')).toBe('5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50');
    // only Stop: a job on Flink cannot be paused, stepped or reset from the kernel
    const buttons = [...card.querySelectorAll('button')].map(b => b.textContent);
    expect(buttons).toEqual(['Stop']);
  });

  it('sends stop for the run, and disables Stop once the job ended', async () => {
    const { model, transport } = await connected([flinkSnapshot()]);
    const stop = flinkCard().querySelector('button') as HTMLButtonElement;
    expect(stop.disabled).toBe(false);
    await act(async () => stop.click());
    expect(transport.requests).toContainEqual({
      kind: 'command',
      pipeline: 'frame-1@flink',
      action: 'stop'
    });
    transport.emitPush(
      push(2, [flinkSnapshot({ job_state: 'CANCELED', actions: [] }, { state: 'stopped' })])
    );
    act(() => root.render(<StreamlabView model={model} />));
    expect((flinkCard().querySelector('button') as HTMLButtonElement).disabled).toBe(true);
    expect(flinkCard().getAttribute('data-state')).toBe('stopped');
  });

  it('shows the root cause of a failed job, escaped', async () => {
    await connected([
      flinkSnapshot({ job_state: 'FAILED', actions: [] }, { state: 'failed', error: EVIL_KEY })
    ]);
    expect(flinkCard().querySelector('.jp-Streamlab-error')?.textContent).toBe(EVIL_KEY);
    expect(container.querySelector('img')).toBeNull();
  });

  it('links only http(s) addresses and shows a job not yet submitted', async () => {
    await connected([flinkSnapshot({ job_id: null, web_url: 'javascript:alert(1)' })]);
    expect(flinkCard().querySelector('a')).toBeNull();
    expect(flinkCard().textContent).toContain('not submitted yet');
    expect(safeUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeUrl('https://flink.example:8081/#/job/x')).toBe('https://flink.example:8081/#/job/x');
  });

  it('renders a pipeline without a flink part as before', () => {
    expect(flinkJob(snapshot())).toBeUndefined();
    expect(flinkJob(flinkSnapshot())?.job_id).toBe('5f3c0e2a9b1d4c7e8f6a0b1c2d3e4f50');
  });
});

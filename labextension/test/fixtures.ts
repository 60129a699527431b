/** Canned messages, shaped like the kernel's (see streamlab/comm/protocol.py). */
import {
  IHelloReply,
  IPipelineSnapshot,
  ISnapshotsPush,
  PROTOCOL_VERSION
} from '../src/protocol';

export const EVIL_KEY = '<img src=x onerror=alert(1)>';

export function snapshot(
  overrides: Partial<IPipelineSnapshot> = {}
): IPipelineSnapshot {
  return {
    name: 'demo',
    state: 'running',
    watermark: 1700000000000,
    watermark_text: '2023-11-14T22:13:20.000Z',
    lag_ms: 512,
    counters: { in: 1200, out: 7, late: 3, errors: 1 },
    events_per_s: 987.5,
    operators: [
      {
        id: 'op-1',
        kind: 'source',
        label: 'demo.sensors',
        upstreams: [],
        inputs: [],
        counters: { in: 1200, out: 1200, late: 0, errors: 0 },
        events_per_s: 987.5,
        watermark: null,
        state: {}
      },
      {
        id: 'op-2',
        kind: 'window',
        label: 'Tumble(1s) by sensor',
        upstreams: ['op-1'],
        inputs: [{ port: 0, upstream: 'op-1', watermark: 1700000000000 }],
        counters: { in: 1200, out: 7, late: 3, errors: 1 },
        events_per_s: 987.5,
        watermark: 1700000000000,
        state: {
          open_windows: [
            {
              key: [`${EVIL_KEY}s1`],
              key_text: `${EVIL_KEY}s1`,
              window_start: 1700000000000,
              window_end: 1700000001000,
              start_text: '2023-11-14T22:13:20.000Z',
              end_text: '2023-11-14T22:13:21.000Z',
              rows: 42,
              partials: { avg: 21.5 }
            }
          ],
          open_count: 1,
          truncated: false,
          late_ledger: [
            {
              sensor: `${EVIL_KEY}s2`,
              temp: 19.25,
              watermark: 1700000000500,
              missed_windows: 1,
              reason: 'window already fired'
            }
          ],
          errors: [{ sensor: 's3', reason: 'temp is not a number' }]
        }
      }
    ],
    ...overrides
  };
}

export function hello(
  pipelines = [{ name: 'demo', state: 'running' }]
): Omit<IHelloReply, 'id'> {
  return {
    kind: 'reply',
    request: 'hello',
    version: PROTOCOL_VERSION,
    protocol_version: PROTOCOL_VERSION,
    streamlab_version: '0.1.0',
    actions: ['start', 'pause', 'resume', 'step', 'stop', 'reset'],
    push_interval_ms: 250,
    pipelines
  };
}

export function push(
  seq: number,
  pipelines: IPipelineSnapshot[] = [snapshot()]
): ISnapshotsPush {
  return { kind: 'snapshots', version: PROTOCOL_VERSION, seq, pipelines };
}

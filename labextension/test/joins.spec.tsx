/**
 * @jest-environment jsdom
 */
import * as React from 'react';
import { act } from 'react';

import { OperatorView } from '../src/components';
import { isJoinState, topKeys } from '../src/joins';
import type { IOperatorSnapshot } from '../src/protocol';
import { container, mountEachTest, root } from './dom';

mountEachTest();

function joinOperator(): IOperatorSnapshot {
  return {
    id: 'op-7',
    kind: 'join',
    label: 'left interval join on ad',
    upstreams: ['op-2', 'op-4'],
    inputs: [
      { port: 0, upstream: 'op-2', watermark: 1500 },
      { port: 1, upstream: 'op-4', watermark: 900 }
    ],
    counters: { in: 12, out: 5, late: 0, errors: 0 },
    events_per_s: 0,
    watermark: 900,
    state: {
      join: 'interval',
      how: 'left',
      on: [['ad'], ['ad']],
      watermark_text: '900',
      left: {
        role: 'left',
        watermark: 1500,
        watermark_text: '1500',
        rows_in: 8,
        held: 3,
        keys_held: { '<b>ad1</b>': 2, ad2: 1 },
        errors: 0,
        matched: 4,
        emitted_unmatched: 1
      },
      right: {
        role: 'right',
        watermark: 900,
        watermark_text: '900',
        rows_in: 4,
        held: 1,
        keys_held: { ad2: 1 },
        errors: 0,
        matched: 3
      }
    }
  };
}

describe('a join in the side panel', () => {
  it('shows both inputs with their watermark, counters and keys held', () => {
    act(() => root.render(<OperatorView operator={joinOperator()} />));
    const rows = [
      ...container.querySelectorAll('.jp-Streamlab-joinSides tbody tr')
    ].map(tr => [...tr.children].map(c => c.textContent));
    expect(rows).toEqual([
      ['left', '1500', '8', '3', '4', '1', '0', '<b>ad1</b> 2, ad2 1'],
      ['right', '900', '4', '1', '3', '–', '0', 'ad2 1']
    ]);
    expect(container.querySelector('b')).toBeNull(); // keys are text, not markup
  });

  it('recognises only a join state', () => {
    expect(isJoinState(joinOperator().state)).toBe(true);
    expect(isJoinState({ open_windows: [] })).toBe(false);
    expect(isJoinState(null)).toBe(false);
    expect(topKeys({ keys_held: { a: 1, b: 2, c: 3 } }, 2)).toBe('a 1, b 2');
  });
});

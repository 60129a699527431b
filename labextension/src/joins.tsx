/**
 * A join's two inputs in the side panel: each input's watermark, the rows it holds (in all and
 * for the keys holding most) and its conservation counters, from the declared `JoinState`.
 */
import * as React from 'react';

import type { JoinSide, JoinState } from './generated';

/** The counters a join side may have, in the order they are shown. */
const COUNTERS: ReadonlyArray<keyof JoinSide> = [
  'rows_in',
  'held',
  'matched',
  'emitted_unmatched',
  'expired_unmatched',
  'late_arrivals',
  'counted',
  'late',
  'versions',
  'superseded',
  'null_keys',
  'errors'
];

/** Most keys listed per input. */
const MAX_KEYS = 5;

/** Whether an operator's `state` is a join's (it names the join and has both inputs). */
export function isJoinState(state: unknown): state is JoinState {
  const s = state as Partial<JoinState> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.join === 'string' &&
    typeof s.left === 'object' &&
    s.left !== null &&
    typeof s.right === 'object' &&
    s.right !== null
  );
}

function text(value: unknown): string {
  if (value === null || value === undefined) {
    return '–';
  }
  return typeof value === 'number' ? value.toLocaleString('en-US') : String(value);
}

/** The keys holding most rows on one side, as "key n, key n". */
export function topKeys(side: Partial<JoinSide>, limit = MAX_KEYS): string {
  const entries = Object.entries(side.keys_held ?? {}).slice(0, limit);
  return entries.map(([k, n]) => `${k} ${text(n)}`).join(', ');
}

/** Both inputs of a join as a table: watermark, counters, keys held. */
export function JoinSides(props: { state: JoinState }): React.ReactElement {
  const sides: Array<[string, Partial<JoinSide>]> = [
    ['left', props.state.left ?? {}],
    ['right', props.state.right ?? {}]
  ];
  const shown = COUNTERS.filter(c => sides.some(([, s]) => s[c] !== undefined));
  return (
    <table className="jp-Streamlab-table jp-Streamlab-joinSides">
      <caption>
        {text(props.state.join)} join ({text(props.state.how)}): inputs
      </caption>
      <thead>
        <tr>
          <th scope="col">input</th>
          <th scope="col">watermark</th>
          {shown.map(c => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
          <th scope="col">keys held</th>
        </tr>
      </thead>
      <tbody>
        {sides.map(([name, s]) => (
          <tr key={name} data-side={name}>
            <th scope="row">
              {s.role && s.role !== name ? `${name} (${s.role})` : name}
            </th>
            <td>{s.watermark_text ?? text(s.watermark)}</td>
            {shown.map(c => (
              <td key={c} className="jp-Streamlab-num">
                {text(s[c])}
              </td>
            ))}
            <td>{topKeys(s)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * React components of the side panel. They only render the model; every text goes
 * through React's escaping (never `dangerouslySetInnerHTML`), so a key such as
 * `<img src=x onerror=alert(1)>` shows as text.
 */
import * as React from 'react';

import { FlinkJobCard, flinkJob } from './flink';
import { formatCount } from './format';
import { isJoinState, JoinSides } from './joins';
import type { StreamlabModel } from './model';
import { ALLOWED_ACTIONS, COMMAND_ACTIONS, isPipelineState } from './protocol';
import type {
  CommandAction,
  ICounters,
  IOpenWindow,
  IOperatorSnapshot,
  IOperatorState,
  IPipelineSnapshot
} from './protocol';

/** Rows of a table shown at most (late ledger, errors). */
const MAX_ROWS = 50;

/* ----------------------------------------------------------------- formatting */

export { formatCount };

/** Events per second. */
export function formatRate(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return '–';
  }
  return `${value.toLocaleString('en-US', { maximumFractionDigits: 1 })}/s`;
}

/** Milliseconds since the epoch as ISO text, or a dash. */
export function formatTime(ms: unknown, text?: unknown): string {
  if (typeof text === 'string' && text !== '') {
    return text;
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    return '–';
  }
  try {
    return new Date(ms).toISOString();
  } catch {
    return String(ms);
  }
}

/** A lag in ms, readable. */
export function formatLag(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    return '–';
  }
  if (Math.abs(ms) < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Any JSON value as short text. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '–';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      return String(value);
    }
    return Number.isInteger(value)
      ? value.toLocaleString('en-US')
      : value.toLocaleString('en-US', { maximumSignificantDigits: 6 });
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/**
 * A window as short text: the date once, then both times, when both ends are ISO
 * timestamps of the same day ("2024-01-01 10:00:00.000–10:00:01.000").
 */
export function formatWindow(
  start: unknown,
  end: unknown,
  startText?: unknown,
  endText?: unknown
): string {
  const a = formatTime(start, startText);
  const b = formatTime(end, endText);
  const iso = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:\d{2})?$/;
  const ma = iso.exec(a);
  const mb = iso.exec(b);
  if (ma && mb && ma[1] === mb[1] && (ma[3] ?? '') === (mb[3] ?? '')) {
    return `${ma[1]} ${ma[2]}–${mb[2]}`;
  }
  return `${a} – ${b}`;
}

/**
 * The commands a state allows: `ALLOWED_ACTIONS`, generated from the one table the kernel
 * checks too (`streamlab/core/state.py`). A state the panel does not know allows none.
 */
export function allowedActions(state: unknown): ReadonlySet<CommandAction> {
  return new Set<CommandAction>(
    isPipelineState(state) ? ALLOWED_ACTIONS[state] : []
  );
}

/* ----------------------------------------------------------------- the panel */

/** The whole panel. */
export function StreamlabView(props: {
  model: StreamlabModel;
}): React.ReactElement {
  const { model } = props;
  return (
    <div
      className="jp-Streamlab-body"
      data-status={model.status}
      data-pushes={model.pushCount}
    >
      <header className="jp-Streamlab-header">
        <h2 className="jp-Streamlab-title">streamlab pipelines</h2>
        {model.label && (
          <p className="jp-Streamlab-source" title="the notebook the panel follows">
            {model.label}
          </p>
        )}
      </header>
      <StatusLine model={model} />
      {model.commandError && (
        <p className="jp-Streamlab-error" role="alert">
          {model.commandError}
        </p>
      )}
      {model.pipelines.length > 0 && (
        <ul className="jp-Streamlab-pipelines" aria-label="pipelines">
          {model.pipelines.map((p, i) => (
            <li key={`${i}:${p.name}`}>
              {flinkJob(p) ? (
                <FlinkJobCard model={model} snapshot={p} />
              ) : (
                <PipelineCard model={model} snapshot={p} />
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** What the connection is doing, and what the user can do about it. */
export function StatusLine(props: {
  model: StreamlabModel;
}): React.ReactElement {
  const { model } = props;
  let text: React.ReactNode;
  switch (model.status) {
    case 'no-kernel':
      text = 'No pipelines: open a notebook to see its pipelines.';
      break;
    case 'connecting':
      text = 'Connecting to the kernel…';
      break;
    case 'not-enabled':
      text = (
        <>
          No pipelines: streamlab is not loaded in this kernel. Run{' '}
          <code>%load_ext streamlab</code> in a cell to enable this panel.
        </>
      );
      break;
    case 'disconnected':
      text = 'No pipelines: the kernel restarted or went away. Reconnecting…';
      break;
    case 'version-mismatch':
      text = model.message;
      break;
    case 'error':
      text = `Cannot talk to streamlab in this kernel: ${model.message}`;
      break;
    case 'connected':
      text =
        model.pipelines.length === 0 ? (
          <>
            No pipelines in this kernel yet. Start one, e.g.{' '}
            <code>res.start(name="demo")</code>.
          </>
        ) : (
          `${model.pipelines.length} pipeline${
            model.pipelines.length === 1 ? '' : 's'
          }${model.kernelVersion ? ` · streamlab ${model.kernelVersion}` : ''}`
        );
      break;
  }
  return (
    <div className="jp-Streamlab-statusLine">
      <p
        className={`jp-Streamlab-status jp-Streamlab-status-${model.status}`}
        role="status"
      >
        {text}
      </p>
      {model.canRetry && (
        <button
          className="jp-Streamlab-command"
          title="Ask the kernel again"
          onClick={() => void model.connect()}
        >
          Check again
        </button>
      )}
    </div>
  );
}

/** A button per declared action, in the declared order (`ACTIONS`). */
const BUTTONS: Readonly<Record<CommandAction, string>> = {
  start: 'Start',
  pause: 'Pause',
  resume: 'Resume',
  step: 'Step',
  stop: 'Stop',
  reset: 'Reset'
};

/** One pipeline: its status, its controls and, expanded, its operators. */
export function PipelineCard(props: {
  model: StreamlabModel;
  snapshot: IPipelineSnapshot;
}): React.ReactElement {
  const { model, snapshot } = props;
  const name = snapshot.name;
  const expanded = model.isExpanded(name);
  const counters: Partial<ICounters> = snapshot.counters ?? {};
  const pending = model.pendingCommand(name);
  const allowed = allowedActions(snapshot.state);
  const detailsId = React.useId();
  return (
    <section
      className="jp-Streamlab-pipeline"
      aria-label={`pipeline ${name}`}
      data-state={snapshot.state}
    >
      <div className="jp-Streamlab-pipelineHeader">
        <button
          className="jp-Streamlab-toggle"
          aria-expanded={expanded}
          aria-controls={detailsId}
          title={expanded ? 'Hide operators' : 'Show operators'}
          onClick={() => model.toggleExpanded(name)}
        >
          <span className="jp-Streamlab-caret" aria-hidden="true">
            {expanded ? '▾' : '▸'}
          </span>
          <span className="jp-Streamlab-name">{name}</span>
        </button>
        <span
          className={`jp-Streamlab-state jp-Streamlab-state-${Private.cssToken(
            snapshot.state
          )}`}
        >
          {snapshot.state}
        </span>
      </div>
      <table className="jp-Streamlab-metrics" aria-label={`metrics of ${name}`}>
        <tbody>
          <Metric label="state" value={snapshot.state} />
          <Metric label="events in" value={formatCount(counters.in)} />
          <Metric label="events/s" value={formatRate(snapshot.events_per_s)} />
          <Metric
            label="watermark"
            value={formatTime(snapshot.watermark, snapshot.watermark_text)}
          />
          <Metric label="lag" value={formatLag(snapshot.lag_ms)} />
          <Metric label="late" value={formatCount(counters.late)} />
          <Metric label="errors" value={formatCount(counters.errors)} />
        </tbody>
      </table>
      <div
        className="jp-Streamlab-controls"
        role="toolbar"
        aria-label={`controls of ${name}`}
      >
        {COMMAND_ACTIONS.map(action => (
          <button
            key={action}
            className="jp-Streamlab-command"
            title={`${BUTTONS[action]} pipeline ${name}`}
            disabled={pending !== undefined || !allowed.has(action)}
            onClick={() => void model.command(name, action)}
          >
            {BUTTONS[action]}
          </button>
        ))}
      </div>
      {snapshot.error && <p className="jp-Streamlab-error">{snapshot.error}</p>}
      {expanded && (
        <div id={detailsId} className="jp-Streamlab-details">
          <OperatorGraph snapshot={snapshot} />
        </div>
      )}
    </section>
  );
}

function Metric(props: { label: string; value: string }): React.ReactElement {
  return (
    <tr>
      <th scope="row">{props.label}</th>
      <td>{props.value}</td>
    </tr>
  );
}

/** The operators, upstream first, with their counters and state. */
export function OperatorGraph(props: {
  snapshot: IPipelineSnapshot;
}): React.ReactElement {
  const operators = props.snapshot.operators ?? [];
  if (operators.length === 0) {
    return <p className="jp-Streamlab-empty">No operator details yet.</p>;
  }
  return (
    <ol
      className="jp-Streamlab-graph"
      aria-label={`operators of ${props.snapshot.name}`}
    >
      {operators.map((op, i) => (
        <li key={`${i}:${op.id}`} className="jp-Streamlab-operator">
          <OperatorView operator={op} />
        </li>
      ))}
    </ol>
  );
}

/** One operator: what it is, where it reads from, its counters and its state. */
export function OperatorView(props: {
  operator: IOperatorSnapshot;
}): React.ReactElement {
  const op = props.operator;
  // the kernel sends what the operator reports: read every field defensively
  const counters: Partial<ICounters> = op.counters ?? {};
  const state: IOperatorState = op.state ?? {};
  const upstreams = Array.isArray(op.upstreams) ? op.upstreams : [];
  return (
    <section
      className="jp-Streamlab-operatorBody"
      aria-label={`operator ${op.id} ${op.label}`}
    >
      <div className="jp-Streamlab-operatorTitle">
        <span className="jp-Streamlab-opKind">{formatValue(op.kind)}</span>{' '}
        <span className="jp-Streamlab-opLabel">{formatValue(op.label)}</span>{' '}
        <span className="jp-Streamlab-opId">{formatValue(op.id)}</span>
      </div>
      {upstreams.length > 0 && (
        <div className="jp-Streamlab-upstreams">
          from {upstreams.map(u => formatValue(u)).join(', ')}
        </div>
      )}
      <div className="jp-Streamlab-opCounters">
        in {formatCount(counters.in)} · out {formatCount(counters.out)} · late{' '}
        {formatCount(counters.late)} · errors {formatCount(counters.errors)} ·{' '}
        {formatRate(op.events_per_s)}
        {op.watermark !== undefined && op.watermark !== null && (
          <> · watermark {formatTime(op.watermark)}</>
        )}
      </div>
      {isJoinState(state) && <JoinSides state={state} />}
      {Array.isArray(state.open_windows) && (
        <OpenWindows
          windows={state.open_windows}
          total={state.open_count}
          truncated={state.truncated === true}
        />
      )}
      {Array.isArray(state.late_ledger) && state.late_ledger.length > 0 && (
        <RowsTable caption="Late ledger" rows={state.late_ledger} />
      )}
      {Array.isArray(state.errors) && state.errors.length > 0 && (
        <RowsTable caption="Errors" rows={state.errors} />
      )}
    </section>
  );
}

/** Open windows per key with their partial aggregates. */
export function OpenWindows(props: {
  windows: IOpenWindow[];
  total?: number;
  truncated: boolean;
}): React.ReactElement {
  const { windows } = props;
  const total = typeof props.total === 'number' ? props.total : windows.length;
  const partialNames = Private.columns(windows.map(w => w.partials ?? {}));
  return (
    <table className="jp-Streamlab-table">
      <caption>
        Open windows ({formatCount(total)}
        {props.truncated || total > windows.length
          ? `, showing ${formatCount(windows.length)}`
          : ''}
        )
      </caption>
      <thead>
        <tr>
          <th scope="col">key</th>
          <th scope="col">window</th>
          <th scope="col">rows</th>
          {partialNames.map(n => (
            <th scope="col" key={n}>
              {n}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {windows.map((w, i) => (
          <tr key={i}>
            <td>
              {typeof w.key_text === 'string' ? w.key_text : formatValue(w.key)}
            </td>
            <td
              title={`${formatTime(w.window_start, w.start_text)} – ${formatTime(
                w.window_end,
                w.end_text
              )}`}
            >
              {formatWindow(w.window_start, w.window_end, w.start_text, w.end_text)}
            </td>
            <td className="jp-Streamlab-num">{formatCount(w.rows)}</td>
            {partialNames.map(n => (
              <td key={n} className="jp-Streamlab-num">
                {formatValue((w.partials ?? {})[n])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A few rows of a side output (late ledger, errors). */
export function RowsTable(props: {
  caption: string;
  rows: Array<{ [column: string]: unknown }>;
}): React.ReactElement {
  const rows = props.rows.slice(-MAX_ROWS);
  const columns = Private.columns(rows);
  return (
    <table className="jp-Streamlab-table">
      <caption>
        {props.caption} ({formatCount(props.rows.length)}
        {props.rows.length > rows.length
          ? `, last ${formatCount(rows.length)}`
          : ''}
        )
      </caption>
      <thead>
        <tr>
          {columns.map(c => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {columns.map(c => (
              <td key={c}>{formatValue(row[c])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

namespace Private {
  /** The union of the rows' keys, in first-seen order. */
  export function columns(rows: Array<{ [key: string]: unknown }>): string[] {
    const seen = new Set<string>();
    for (const row of rows) {
      if (row && typeof row === 'object') {
        for (const key of Object.keys(row)) {
          seen.add(key);
        }
      }
    }
    return [...seen];
  }

  /** A CSS class token from untrusted text. */
  export function cssToken(text: string): string {
    return String(text).replace(/[^a-zA-Z0-9_-]/g, '_');
  }
}

/**
 * A pipeline running on a Flink cluster (`res.on_flink(cluster)`) in the side panel: the
 * job id as a link to the job in the Flink web UI, Flink's state, the records in and out
 * from Flink's REST metrics, and Stop (which cancels the job). The kernel lists such a run
 * as `NAME@flink`; its snapshot carries a `flink` part (`FlinkJobSnapshot`, generated.ts).
 * Every text goes through React's escaping.
 */
import * as React from 'react';

import { formatCount } from './format';
import type { FlinkJobSnapshot } from './generated';
import type { StreamlabModel } from './model';
import type { IPipelineSnapshot } from './protocol';

/** The `flink` part of a snapshot, or undefined for a pipeline in the kernel. */
export function flinkJob(
  snapshot: IPipelineSnapshot
): Partial<FlinkJobSnapshot> | undefined {
  const job = (snapshot as { flink?: unknown }).flink;
  return job !== null && typeof job === 'object'
    ? (job as Partial<FlinkJobSnapshot>)
    : undefined;
}

/** Only http(s) links reach an `href` (a snapshot is data, never code). */
export function safeUrl(url: unknown): string | undefined {
  if (typeof url !== 'string') {
    return undefined;
  }
  return /^https?:\/\//i.test(url) ? url : undefined;
}

/** One job on Flink: its link, state, Flink's record counts, the rows received, Stop. */
export function FlinkJobCard(props: {
  model: StreamlabModel;
  snapshot: IPipelineSnapshot;
}): React.ReactElement {
  const { model, snapshot } = props;
  const name = snapshot.name;
  const job = flinkJob(snapshot) ?? {};
  const pending = model.pendingCommand(name);
  const canStop = Array.isArray(job.actions) && job.actions.includes('stop');
  const url = safeUrl(job.web_url);
  const cssState = String(snapshot.state).replace(/[^A-Za-z0-9_-]/g, '_');
  return (
    <section
      className="jp-Streamlab-pipeline jp-Streamlab-flink"
      aria-label={`Flink job ${name}`}
      data-state={snapshot.state}
      data-job-id={job.job_id ?? ''}
    >
      <div className="jp-Streamlab-pipelineHeader">
        <span className="jp-Streamlab-name">{name}</span>
        <span className={`jp-Streamlab-state jp-Streamlab-state-${cssState}`}>
          {snapshot.state}
        </span>
      </div>
      <table className="jp-Streamlab-metrics" aria-label={`Flink job of ${name}`}>
        <tbody>
          <tr>
            <th scope="row">job</th>
            <td>
              {job.job_id && url ? (
                <a
                  className="jp-Streamlab-flinkLink"
                  href={url}
                  target="_blank"
                  rel="noopener noreferrer"
                  title="the job in the Flink web UI"
                >
                  {job.job_id}
                </a>
              ) : (
                job.job_id ?? 'not submitted yet'
              )}
            </td>
          </tr>
          <tr>
            <th scope="row">Flink state</th>
            <td>{job.job_state ?? '–'}</td>
          </tr>
          <tr>
            <th scope="row">records in</th>
            <td>{formatCount(job.records_in)}</td>
          </tr>
          <tr>
            <th scope="row">records out</th>
            <td>{formatCount(job.records_out)}</td>
          </tr>
          <tr>
            <th scope="row">rows received</th>
            <td>{formatCount(job.rows)}</td>
          </tr>
          <tr>
            <th scope="row">late</th>
            <td>{formatCount(job.late)}</td>
          </tr>
        </tbody>
      </table>
      <div
        className="jp-Streamlab-controls"
        role="toolbar"
        aria-label={`controls of ${name}`}
      >
        <button
          className="jp-Streamlab-command"
          title={`Stop: cancel the Flink job of ${name}`}
          disabled={pending !== undefined || !canStop}
          onClick={() => void model.command(name, 'stop')}
        >
          Stop
        </button>
      </div>
      {snapshot.error && <p className="jp-Streamlab-error">{snapshot.error}</p>}
    </section>
  );
}

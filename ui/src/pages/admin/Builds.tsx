import { Fragment, useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { errorMessage, post, qs } from '../../api';
import { useGet } from '../../query';
import { buildActive, type Build, type List } from '../../types';
import { Badge } from '../../components/Badge';
import { ErrorBox, Show } from '../../components/States';
import { duration, when } from '../../format';
import { BuildLogs } from './BuildLogs';

export const pollMs = 3000;

function elapsed(b: Build): number | undefined {
  if (!b.started_at) return undefined;
  const end = b.finished_at ? Date.parse(b.finished_at) : Date.now();
  return end - Date.parse(b.started_at);
}

export function BuildProgress({ b }: { b: Build }) {
  const max = Math.max(b.total_steps, 1);
  const value = b.status === 'succeeded' ? max : Math.min(b.current_step, max);
  return (
    <div className="progress-cell">
      <progress max={max} value={value} aria-label={`Progress of build ${b.name}`} data-testid="build-progress" />
      <span className="small">{b.current_step}/{b.total_steps}</span>
    </div>
  );
}

/**
 * BuildsTab lists builds, newest first. While any build is queued or running it
 * polls every 3 s (not while the page is hidden) and calls onBuildFinished when
 * one ends, so the templates list can refresh.
 */
export function BuildsTab({ onBuildFinished }: { onBuildFinished?: (b: Build) => void }) {
  const [status, setStatus] = useState('');
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState('');
  const path = `/v1/admin/builds${qs({ status, limit: 50 })}`;
  const client = useQueryClient();
  const list = useGet<List<Build>>(path, {
    refetchInterval: (q) => ((q.state.data?.items ?? []).some(buildActive) ? pollMs : false),
  });
  const items = list.data?.items ?? [];
  const active = items.some(buildActive);
  const wasActive = useRef(new Map<string, boolean>());

  useEffect(() => {
    for (const b of items) {
      if (wasActive.current.get(b.id) && !buildActive(b)) onBuildFinished?.(b);
      wasActive.current.set(b.id, buildActive(b));
    }
  }, [items, onBuildFinished]);

  const toggle = (id: string) => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  const cancel = async (b: Build) => {
    setActionError('');
    try {
      const nb = await post<Build>(`/v1/admin/builds/${encodeURIComponent(b.id)}/cancel`);
      client.setQueryData<List<Build>>([path], (d) => d && { ...d, items: d.items.map((x) => (x.id === nb.id ? nb : x)) });
    } catch (e) {
      setActionError(errorMessage(e));
    }
  };

  return (
    <div>
      <div className="toolbar">
        <label className="inline">
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void list.refetch()} aria-label="Refresh builds">Refresh</button>
        {active && <span className="small muted" role="status">Updating every {pollMs / 1000} s while builds run</span>}
      </div>
      {actionError && <ErrorBox message={actionError} />}
      <Show load={list} what="builds" isEmpty={(d) => d.items.length === 0} empty={<p>No builds{status ? ` with status ${status}` : ''}. Create a template to start one.</p>}>
        {() => (
          <table className="builds">
            <thead>
              <tr>
                <th scope="col">Build</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Base</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((b) => (
                <Fragment key={b.id}>
                  <tr data-testid="build-row" data-build-id={b.id}>
                    <td><strong>{b.name}</strong><div className="mono small muted">{b.id}</div></td>
                    <td>
                      <Badge status={b.status} />
                      {b.error && <div className="small error-text">{b.error}</div>}
                    </td>
                    <td><BuildProgress b={b} /></td>
                    <td>{b.base_template}</td>
                    <td>{when(b.created_at)}</td>
                    <td>{duration(elapsed(b))}</td>
                    <td className="row-actions">
                      <button type="button" aria-expanded={open.has(b.id)} aria-controls={`logs-${b.id}`} onClick={() => toggle(b.id)} aria-label={`${open.has(b.id) ? 'Hide' : 'Show'} logs of build ${b.name}`}>
                        {open.has(b.id) ? 'Hide logs' : 'Logs'}
                      </button>
                      {buildActive(b) && (
                        <button type="button" className="danger" onClick={() => void cancel(b)} aria-label={`Cancel build ${b.name}`}>Cancel</button>
                      )}
                    </td>
                  </tr>
                  {open.has(b.id) && (
                    <tr className="logs-row">
                      <td colSpan={7} id={`logs-${b.id}`}>
                        <BuildLogs id={b.id} pollMs={pollMs} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        )}
      </Show>
    </div>
  );
}

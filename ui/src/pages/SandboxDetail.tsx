import { Fragment, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { del, errorMessage, post } from '../api';
import { useGet } from '../query';
import type { Sandbox } from '../types';
import { Badge } from '../components/Badge';
import { Confirm } from '../components/Dialog';
import { ErrorBox, Loading } from '../components/States';
import { mib, when } from '../format';
import { SandboxTabs } from './SandboxTabs';

const ended = new Set(['killed', 'expired', 'failed', 'lost']);

/** SandboxDetail is a sandbox's page: its facts, actions, and the metrics, terminal, console and files tabs. */
export function SandboxDetail() {
  const id = useParams().id!;
  const path = `/v1/sandboxes/${encodeURIComponent(id)}`;
  const client = useQueryClient();
  const sb = useGet<Sandbox>(path, { refetchInterval: (q) => (q.state.data?.status === 'creating' ? 3000 : false) });
  const [busy, setBusy] = useState('');
  const [actionError, setActionError] = useState('');
  const [confirmKill, setConfirmKill] = useState(false);
  // From the kill on, no metrics request may start (an ended sandbox answers 409).
  const [killing, setKilling] = useState(false);

  const act = async (what: string, call: () => Promise<Sandbox>) => {
    setBusy(what);
    setActionError('');
    if (what === 'kill') {
      setKilling(true);
      await client.cancelQueries({ queryKey: ['metrics', id] });
    }
    try {
      client.setQueryData([path], await call());
      // The lists showed the old state (and would poll a killed sandbox's usage): load them afresh.
      client.removeQueries({ queryKey: ['sandboxes'] });
      client.removeQueries({ queryKey: ['usage', id] });
      setConfirmKill(false);
    } catch (e) {
      setActionError(errorMessage(e));
      setKilling(false);
    } finally {
      setBusy('');
    }
  };
  const retry = () => void sb.refetch();

  if (!sb.data) {
    return sb.error ? <ErrorBox message={errorMessage(sb.error)} onRetry={retry} /> : <Loading what="the sandbox" />;
  }
  const s = sb.data;
  return (
    <section aria-labelledby="sbd-title">
      <p className="small"><Link to="/sandboxes">← Sandboxes</Link></p>
      <div className="page-head">
        <h1 id="sbd-title" className="mono">{s.id}</h1>
        <Badge status={s.status} />
        <div className="toolbar">
          {s.status === 'running' && (
            <button type="button" disabled={!!busy} onClick={() => void act('pause', () => post<Sandbox>(`${path}/pause`))}>
              {busy === 'pause' ? 'Pausing…' : 'Pause'}
            </button>
          )}
          {s.status === 'paused' && (
            <button type="button" disabled={!!busy} onClick={() => void act('resume', () => post<Sandbox>(`${path}/resume`))}>
              {busy === 'resume' ? 'Resuming…' : 'Resume'}
            </button>
          )}
          {!ended.has(s.status) && (
            <button type="button" className="danger" disabled={!!busy} onClick={() => setConfirmKill(true)}>
              Kill
            </button>
          )}
          <button type="button" onClick={retry} aria-label="Refresh sandbox">Refresh</button>
        </div>
      </div>
      {actionError && !confirmKill && <ErrorBox message={actionError} />}
      {sb.error && <ErrorBox message={errorMessage(sb.error)} onRetry={retry} />}
      {s.error && <ErrorBox message={s.error} />}
      <dl className="facts">
        <dt>Template</dt><dd>{s.template}</dd>
        <dt>vCPUs</dt><dd>{s.vcpus}</dd>
        <dt>Memory</dt><dd>{mib(s.memory_mb)}</dd>
        <dt>Disk</dt><dd>{mib(s.disk_size_mb)}</dd>
        <dt>Timeout</dt><dd>{s.timeout_sec} s</dd>
        <dt>Internet</dt><dd>{s.allow_internet_access ? 'allowed' : 'blocked'}</dd>
        <dt>Node</dt><dd className="mono">{s.node_id || '—'}</dd>
        <dt>Created</dt><dd>{when(s.created_at)}</dd>
        <dt>Expires</dt><dd>{when(s.expires_at)}</dd>
        {s.ended_at && (<><dt>Ended</dt><dd>{when(s.ended_at)}</dd></>)}
        {Object.entries(s.metadata ?? {}).map(([k, v]) => (
          <Fragment key={k}><dt>{k}</dt><dd>{v}</dd></Fragment>
        ))}
      </dl>
      <SandboxTabs sandbox={s} metricsLive={!killing} />
      {confirmKill && (
        <Confirm
          title="Kill sandbox"
          message={<>Kill <code>{s.id}</code>? Its processes stop and its disk is deleted.</>}
          action="Kill"
          busy={busy === 'kill'}
          error={actionError}
          onClose={() => { setConfirmKill(false); setActionError(''); }}
          onConfirm={() => void act('kill', () => del<Sandbox>(path))}
        />
      )}
    </section>
  );
}

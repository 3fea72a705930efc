import { useState } from 'react';
import { get, qs } from '../api';
import { useLoad, usePolling } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import { sandboxStates, type List, type Sandbox, type Template } from '../types';
import { Badge, ShortId } from '../components/Badge';
import { Show } from '../components/States';
import { mib, when } from '../format';
import { CreateSandboxDialog } from './CreateSandboxDialog';

export function setQuery(path: string, query: URLSearchParams, changes: Record<string, string>) {
  const q = new URLSearchParams(query);
  for (const [k, v] of Object.entries(changes)) {
    if (v) q.set(k, v);
    else q.delete(k);
  }
  const s = q.toString();
  navigate(s ? `${path}?${s}` : path, { replace: true });
}

/** SandboxTable lists sandboxes; links go to the team detail page unless admin. */
export function SandboxTable({ items, admin, teamNames }: { items: Sandbox[]; admin?: boolean; teamNames?: Record<string, string> }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">Status</th>
          <th scope="col">Template</th>
          {admin && <th scope="col">Team</th>}
          <th scope="col">vCPU</th>
          <th scope="col">Memory</th>
          <th scope="col">Disk</th>
          <th scope="col">Node</th>
          <th scope="col">Created</th>
          <th scope="col">Expires</th>
        </tr>
      </thead>
      <tbody>
        {items.map((s) => (
          <tr key={s.id}>
            <td className="mono">{admin ? s.id : <Link to={`/sandboxes/${s.id}`}>{s.id}</Link>}</td>
            <td>
              <Badge status={s.status} />
              {s.is_build && <> <Badge status="build" label="build" /></>}
              {s.error && <div className="small error-text">{s.error}</div>}
            </td>
            <td>{s.template}</td>
            {admin && <td>{teamNames?.[s.team_id] ?? <ShortId id={s.team_id} />}</td>}
            <td>{s.vcpus}</td>
            <td className="nw">{mib(s.memory_mb)}</td>
            <td className="nw">{mib(s.disk_size_mb)}</td>
            <td><ShortId id={s.node_id} /></td>
            <td className="nw">{when(s.created_at)}</td>
            <td className="nw">{when(s.expires_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StateFilter({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <label className="inline">
      State
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">any</option>
        <option value="running,paused">active (running, paused)</option>
        {sandboxStates.map((s) => (
          <option key={s} value={s}>{s}</option>
        ))}
      </select>
    </label>
  );
}

export function SandboxesPage() {
  const { path, query } = useLocation();
  const state = query.get('state') ?? '';
  const template = query.get('template') ?? '';
  const creating = query.get('create');
  const [more, setMore] = useState<Sandbox[]>([]);
  const [cursor, setCursor] = useState<string>();
  const list = useLoad(async (signal) => {
    const r = await get<List<Sandbox>>(`/v1/sandboxes${qs({ state, template, limit: 100 })}`, signal);
    setMore([]);
    setCursor(r.next_cursor);
    return r;
  }, [state, template]);
  const templates = useLoad((signal) => get<List<Template>>('/v1/templates?limit=200', signal), []);
  const busy = (list.data?.items ?? []).some((s) => s.status === 'creating');
  usePolling(list.reload, 3000, busy);

  const loadMore = async () => {
    const r = await get<List<Sandbox>>(`/v1/sandboxes${qs({ state, template, limit: 100, cursor })}`);
    setMore([...more, ...r.items]);
    setCursor(r.next_cursor);
  };
  const filtered = !!(state || template);

  return (
    <section aria-labelledby="sb-title">
      <div className="page-head">
        <h1 id="sb-title">Sandboxes</h1>
        <div className="toolbar">
          <StateFilter value={state} onChange={(v) => setQuery(path, query, { state: v })} />
          <label className="inline">
            Template
            <select value={template} onChange={(e) => setQuery(path, query, { template: e.target.value })}>
              <option value="">any</option>
              {(templates.data?.items ?? []).map((t) => (
                <option key={t.id} value={t.name}>{t.name}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void list.reload()} aria-label="Refresh sandboxes">Refresh</button>
          <button type="button" className="primary" onClick={() => setQuery(path, query, { create: '1' })}>
            Create sandbox
          </button>
        </div>
      </div>
      <Show
        load={list}
        what="sandboxes"
        isEmpty={(d) => d.items.length === 0}
        empty={filtered ? <p>No sandbox matches these filters.</p> : <p>No sandboxes yet. Create one from a template to get started.</p>}
      >
        {(d) => (
          <>
            <SandboxTable items={[...d.items, ...more]} />
            {cursor && <button type="button" onClick={() => void loadMore()}>Load more</button>}
          </>
        )}
      </Show>
      {creating && (
        <CreateSandboxDialog
          templates={templates.data?.items ?? []}
          initialTemplate={creating === '1' ? '' : creating}
          onClose={() => setQuery(path, query, { create: '' })}
          onCreated={(s) => navigate(`/sandboxes/${s.id}`)}
        />
      )}
    </section>
  );
}

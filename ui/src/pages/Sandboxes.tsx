import { useInfiniteQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { get, qs } from '../api';
import { useGet } from '../query';
import { useQueryParams } from '../searchParams';
import { sandboxStates, type List, type Sandbox, type Template } from '../types';
import { Badge, ShortId } from '../components/Badge';
import { Show } from '../components/States';
import { mib, when } from '../format';
import { CreateSandboxDialog } from './CreateSandboxDialog';
import { UsageCells } from './UsageCells';

/**
 * SandboxTable lists sandboxes; links go to the team detail page unless admin.
 * The team's list shows each live row's newest CPU and memory sample (one
 * metrics call per running or paused row, polled); the admin list does not,
 * since those routes answer for the caller's own team only.
 */
export function SandboxTable({ items, admin, teamNames }: { items: Sandbox[]; admin?: boolean; teamNames?: Record<string, string> }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">ID</th>
          <th scope="col">Status</th>
          <th scope="col">Template</th>
          {admin && <th scope="col">Team</th>}
          {!admin && <th scope="col">CPU now</th>}
          {!admin && <th scope="col">Memory now</th>}
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
          <tr key={s.id} data-testid="sandbox-row" data-sandbox-id={s.id}>
            <td className="mono">{admin ? s.id : <Link to={`/sandboxes/${s.id}`}>{s.id}</Link>}</td>
            <td>
              <Badge status={s.status} />
              {s.is_build && <> <Badge status="build" label="build" /></>}
              {s.error && <div className="small error-text">{s.error}</div>}
            </td>
            <td>{s.template}</td>
            {admin && <td>{teamNames?.[s.team_id] ?? <ShortId id={s.team_id} />}</td>}
            {!admin && <UsageCells sandbox={s} />}
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
  const [query, setQuery] = useQueryParams();
  const navigate = useNavigate();
  const state = query.get('state') ?? '';
  const template = query.get('template') ?? '';
  const creating = query.get('create');
  // Pages of 100 by cursor; while a sandbox is being created every page is polled.
  const list = useInfiniteQuery({
    queryKey: ['sandboxes', state, template],
    queryFn: ({ pageParam, signal }) => get<List<Sandbox>>(`/v1/sandboxes${qs({ state, template, limit: 100, cursor: pageParam })}`, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor || undefined,
    select: (d) => d.pages.flatMap((p) => p.items),
    refetchInterval: (q) => ((q.state.data?.pages ?? []).some((p) => p.items.some((s) => s.status === 'creating')) ? 3000 : false),
  });
  const templates = useGet<List<Template>>('/v1/templates?limit=200');
  const filtered = !!(state || template);

  return (
    <section aria-labelledby="sb-title">
      <div className="page-head">
        <h1 id="sb-title">Sandboxes</h1>
        <div className="toolbar">
          <StateFilter value={state} onChange={(v) => setQuery({ state: v })} />
          <label className="inline">
            Template
            <select value={template} onChange={(e) => setQuery({ template: e.target.value })}>
              <option value="">any</option>
              {(templates.data?.items ?? []).map((t) => (
                <option key={t.id} value={t.name}>{t.name}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void list.refetch()} aria-label="Refresh sandboxes">Refresh</button>
          <button type="button" className="primary" onClick={() => setQuery({ create: '1' })}>
            Create sandbox
          </button>
        </div>
      </div>
      <Show
        load={list}
        what="sandboxes"
        isEmpty={(d) => d.length === 0}
        empty={filtered ? <p>No sandbox matches these filters.</p> : <p>No sandboxes yet. Create one from a template to get started.</p>}
      >
        {(d) => (
          <>
            <SandboxTable items={d} />
            {list.hasNextPage && <button type="button" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>Load more</button>}
          </>
        )}
      </Show>
      {creating && (
        <CreateSandboxDialog
          templates={templates.data?.items ?? []}
          initialTemplate={creating === '1' ? '' : creating}
          onClose={() => setQuery({ create: '' })}
          onCreated={(s) => navigate(`/sandboxes/${s.id}`)}
        />
      )}
    </section>
  );
}

import { get, qs } from '../../api';
import { useLoad } from '../../hooks';
import { useLocation } from '../../router';
import type { List, Sandbox, Team } from '../../types';
import { Show } from '../../components/States';
import { SandboxTable, StateFilter, setQuery } from '../Sandboxes';

/** AdminSandboxes lists the sandboxes of every team, build sandboxes included. */
export function AdminSandboxes() {
  const { path, query } = useLocation();
  const state = query.get('state') ?? '';
  const list = useLoad((signal) => get<List<Sandbox>>(`/v1/admin/sandboxes${qs({ state, limit: 200 })}`, signal), [state]);
  const teams = useLoad((signal) => get<List<Team>>('/v1/admin/teams?limit=200', signal), []);
  const teamNames = Object.fromEntries((teams.data?.items ?? []).map((t) => [t.id, t.name]));
  return (
    <section aria-labelledby="as-title">
      <div className="page-head">
        <h1 id="as-title">All sandboxes</h1>
        <div className="toolbar">
          <StateFilter value={state} onChange={(v) => setQuery(path, query, { state: v })} />
          <button type="button" onClick={() => void list.reload()} aria-label="Refresh sandboxes">Refresh</button>
        </div>
      </div>
      <Show load={list} what="sandboxes" isEmpty={(d) => d.items.length === 0} empty={<p>No sandboxes{state ? ` in state ${state}` : ''} in any team.</p>}>
        {(d) => <SandboxTable items={d.items} admin teamNames={teamNames} />}
      </Show>
    </section>
  );
}

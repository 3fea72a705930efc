import { qs } from '../../api';
import { useGet } from '../../query';
import { useQueryParams } from '../../searchParams';
import type { List, Sandbox, Team } from '../../types';
import { Show } from '../../components/States';
import { SandboxTable, StateFilter } from '../Sandboxes';

/** AdminSandboxes lists the sandboxes of every team, build sandboxes included. */
export function AdminSandboxes() {
  const [query, setQuery] = useQueryParams();
  const state = query.get('state') ?? '';
  const list = useGet<List<Sandbox>>(`/v1/admin/sandboxes${qs({ state, limit: 200 })}`);
  const teams = useGet<List<Team>>('/v1/admin/teams?limit=200');
  const teamNames = Object.fromEntries((teams.data?.items ?? []).map((t) => [t.id, t.name]));
  return (
    <section aria-labelledby="as-title">
      <div className="page-head">
        <h1 id="as-title">All sandboxes</h1>
        <div className="toolbar">
          <StateFilter value={state} onChange={(v) => setQuery({ state: v })} />
          <button type="button" onClick={() => void list.refetch()} aria-label="Refresh sandboxes">Refresh</button>
        </div>
      </div>
      <Show load={list} what="sandboxes" isEmpty={(d) => d.items.length === 0} empty={<p>No sandboxes{state ? ` in state ${state}` : ''} in any team.</p>}>
        {(d) => <SandboxTable items={d.items} admin teamNames={teamNames} />}
      </Show>
    </section>
  );
}

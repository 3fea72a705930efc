import { useState, type FormEvent } from 'react';
import { errorMessage, post } from '../../api';
import { useGet } from '../../query';
import type { List, Team } from '../../types';
import { Badge } from '../../components/Badge';
import { ErrorBox, Show } from '../../components/States';
import { when } from '../../format';

export function TeamsPage() {
  const teams = useGet<List<Team>>('/v1/admin/teams?limit=200');
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError('');
    try {
      await f();
      await teams.refetch();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const create = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await post('/v1/admin/teams', { name: name.trim() });
      setName('');
    });
  };
  return (
    <section aria-labelledby="teams-title">
      <div className="page-head">
        <h1 id="teams-title">Teams</h1>
        <form className="toolbar" onSubmit={create}>
          <input aria-label="New team name" placeholder="team name" value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit" className="primary" disabled={busy || !name.trim()}>Create team</button>
        </form>
      </div>
      {error && <ErrorBox message={error} />}
      <Show load={teams} what="teams" isEmpty={(d) => d.items.length === 0} empty={<p>No teams.</p>}>
        {(d) => (
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">State</th><th scope="col">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {d.items.map((t) => (
                <tr key={t.id}>
                  <td><strong>{t.name}</strong></td>
                  <td className="mono small">{t.id}</td>
                  <td>{t.disabled ? <Badge status="disabled" /> : <Badge status="ok" label="active" />}</td>
                  <td>{when(t.created_at)}</td>
                  <td className="row-actions">
                    <button type="button" disabled={busy} className={t.disabled ? '' : 'danger'} aria-label={`${t.disabled ? 'Enable' : 'Disable'} team ${t.name}`}
                      onClick={() => void run(() => post(`/v1/admin/teams/${encodeURIComponent(t.id)}/${t.disabled ? 'enable' : 'disable'}`))}>
                      {t.disabled ? 'Enable' : 'Disable'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
    </section>
  );
}

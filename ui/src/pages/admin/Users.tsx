import { useState, type FormEvent } from 'react';
import { errorMessage, post } from '../../api';
import { useGet } from '../../query';
import type { List, Team, User } from '../../types';
import { Badge } from '../../components/Badge';
import { Dialog, ErrorText } from '../../components/Dialog';
import { Field } from '../../components/Field';
import { ErrorBox, Show } from '../../components/States';
import { when } from '../../format';

function CreateUserDialog({ teams, onClose, onCreated }: { teams: Team[]; onClose: () => void; onCreated: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const [teamId, setTeamId] = useState('');
  const [role, setRole] = useState('member');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await post('/v1/admin/users', { email, password, is_admin: isAdmin, ...(teamId ? { team_id: teamId, role } : {}) });
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Create user" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <Field label="Email">{(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}</Field>
        <Field label="Password">{(p) => <input {...p} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />}</Field>
        <label className="check"><input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} /> Admin</label>
        <div className="grid2">
          <Field label="Team">
            {(p) => (
              <select {...p} value={teamId} onChange={(e) => setTeamId(e.target.value)}>
                <option value="">no team</option>
                {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
              </select>
            )}
          </Field>
          <Field label="Role">
            {(p) => (
              <select {...p} value={role} onChange={(e) => setRole(e.target.value)} disabled={!teamId}>
                <option value="member">member</option>
                <option value="owner">owner</option>
              </select>
            )}
          </Field>
        </div>
        {error && <ErrorText message={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Creating…' : 'Create user'}</button>
        </div>
      </form>
    </Dialog>
  );
}

export function UsersPage() {
  const users = useGet<List<User>>('/v1/admin/users?limit=200');
  const teams = useGet<List<Team>>('/v1/admin/teams?limit=200');
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState('');
  const toggle = async (u: User) => {
    setBusy(u.id);
    setError('');
    try {
      await post(`/v1/admin/users/${encodeURIComponent(u.id)}/${u.disabled ? 'enable' : 'disable'}`);
      await users.refetch();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy('');
    }
  };
  return (
    <section aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title">Users</h1>
        <div className="toolbar">
          <button type="button" className="primary" onClick={() => setCreating(true)}>Create user</button>
        </div>
      </div>
      {error && <ErrorBox message={error} />}
      <Show load={users} what="users" isEmpty={(d) => d.items.length === 0} empty={<p>No users.</p>}>
        {(d) => (
          <table>
            <thead>
              <tr><th scope="col">Email</th><th scope="col">ID</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {d.items.map((u) => (
                <tr key={u.id}>
                  <td><strong>{u.email}</strong></td>
                  <td className="mono small">{u.id}</td>
                  <td>{u.is_admin ? <Badge status="info" label="admin" /> : 'user'}</td>
                  <td>{u.disabled ? <Badge status="disabled" /> : <Badge status="ok" label="active" />}</td>
                  <td>{when(u.created_at)}</td>
                  <td className="row-actions">
                    <button type="button" disabled={busy === u.id} className={u.disabled ? '' : 'danger'} onClick={() => void toggle(u)} aria-label={`${u.disabled ? 'Enable' : 'Disable'} user ${u.email}`}>
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {creating && (
        <CreateUserDialog teams={teams.data?.items ?? []} onClose={() => setCreating(false)} onCreated={() => { setCreating(false); void users.refetch(); }} />
      )}
    </section>
  );
}

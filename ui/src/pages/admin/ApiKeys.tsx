import { useState, type FormEvent } from 'react';
import { del, errorMessage, post } from '../../api';
import { useGet } from '../../query';
import { useSession } from '../../session';
import type { ApiKey, List } from '../../types';
import { Badge } from '../../components/Badge';
import { Confirm, Dialog, ErrorText } from '../../components/Dialog';
import { Field } from '../../components/Field';
import { Show } from '../../components/States';
import { when } from '../../format';

function CreateKeyDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState('');
  const [copied, setCopied] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (days.trim() && !/^\d+$/.test(days.trim())) {
      setError('Expires in (days) must be a whole number');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const k = await post<ApiKey & { key: string }>('/v1/api-keys', { name: name.trim(), admin, ...(days.trim() ? { expires_in_days: Number(days) } : {}) });
      setSecret(k.key);
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  if (secret) {
    return (
      <Dialog title="API key created" onClose={onClose}>
        <p>Copy the key now: it is shown only this once.</p>
        <label className="field">
          Secret
          <input readOnly value={secret} className="mono" onFocus={(e) => e.target.select()} data-testid="api-key-secret" />
        </label>
        <div className="actions">
          <button type="button" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</button>
          <button type="button" className="primary" onClick={onClose}>Done</button>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title="Create API key" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <Field label="Name">{(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} placeholder="ci" />}</Field>
        <Field label="Expires in (days)" hint="empty: never">{(p) => <input {...p} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />}</Field>
        <label className="check"><input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> Admin key</label>
        {error && <ErrorText message={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Creating…' : 'Create key'}</button>
        </div>
      </form>
    </Dialog>
  );
}

/** ApiKeysPage lists the current team's keys; a new key's secret is shown once. */
export function ApiKeysPage() {
  const { me } = useSession();
  const keys = useGet<List<ApiKey>>('/v1/api-keys');
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const revoke = async (k: ApiKey) => {
    setBusy(true);
    setError('');
    try {
      await del(`/v1/api-keys/${encodeURIComponent(k.id)}`);
      setRevoking(null);
      await keys.refetch();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="keys-title">
      <div className="page-head">
        <h1 id="keys-title">API keys <span className="small muted">team {me.team.name}</span></h1>
        <div className="toolbar">
          <button type="button" className="primary" onClick={() => setCreating(true)}>Create API key</button>
        </div>
      </div>
      <Show load={keys} what="API keys" isEmpty={(d) => d.items.length === 0} empty={<p>This team has no API keys.</p>}>
        {(d) => (
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {d.items.map((k) => (
                <tr key={k.id} data-testid="api-key-row">
                  <td><strong>{k.name}</strong></td>
                  <td className="mono small">{k.prefix}</td>
                  <td>{k.admin ? <Badge status="info" label="admin" /> : 'team'}</td>
                  <td>{when(k.created_at)}</td>
                  <td>{when(k.last_used_at)}</td>
                  <td>{k.expires_at ? when(k.expires_at) : 'never'}</td>
                  <td>{k.revoked_at ? <Badge status="revoked" /> : <Badge status="ok" label="active" />}</td>
                  <td className="row-actions">
                    {!k.revoked_at && (
                      <button type="button" className="danger" onClick={() => setRevoking(k)} aria-label={`Revoke API key ${k.name}`}>Revoke</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {creating && <CreateKeyDialog onClose={() => setCreating(false)} onCreated={() => void keys.refetch()} />}
      {revoking && (
        <Confirm title="Revoke API key" message={<>Revoke <strong>{revoking.name}</strong> ({revoking.prefix})? Clients using it stop working at once.</>}
          action="Revoke" busy={busy} error={error} onClose={() => { setRevoking(null); setError(''); }} onConfirm={() => void revoke(revoking)} />
      )}
    </section>
  );
}

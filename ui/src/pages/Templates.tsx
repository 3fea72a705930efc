import { useState } from 'react';
import { del, errorMessage, qs } from '../api';
import { useNavigate } from 'react-router';
import { useGet } from '../query';
import { useQueryParams } from '../searchParams';
import type { List, Template } from '../types';
import { Badge } from '../components/Badge';
import { Confirm } from '../components/Dialog';
import { Show } from '../components/States';
import { bytes, mib, when } from '../format';

export function TemplatesPage() {
  const [query, setQuery] = useQueryParams();
  const navigate = useNavigate();
  const type = query.get('type') ?? '';
  const list = useGet<List<Template>>(`/v1/templates${qs({ type, limit: 200 })}`);
  const [toDelete, setToDelete] = useState<Template | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const remove = async (t: Template) => {
    setBusy(true);
    setError('');
    try {
      await del(`/v1/templates/${encodeURIComponent(t.id)}`);
      setToDelete(null);
      await list.refetch();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="tpl-title">
      <div className="page-head">
        <h1 id="tpl-title">Templates</h1>
        <div className="toolbar">
          <label className="inline">
            Type
            <select value={type} onChange={(e) => setQuery({ type: e.target.value })}>
              <option value="">any</option>
              <option value="image">image</option>
              <option value="snapshot">snapshot</option>
            </select>
          </label>
          <button type="button" onClick={() => void list.refetch()} aria-label="Refresh templates">Refresh</button>
        </div>
      </div>
      <Show load={list} what="templates" isEmpty={(d) => d.items.length === 0} empty={<p>No templates{type ? ` of type ${type}` : ''}. An admin builds them under Admin → Templates.</p>}>
        {(d) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Owner</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col">vCPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Created</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {d.items.map((t) => (
                <tr key={t.id} data-testid="template-row">
                  <td><strong>{t.name}</strong><div className="mono small muted">{t.id}</div></td>
                  <td>{t.platform ? <Badge status="platform" label="platform" /> : <Badge status="team" label="team" />}</td>
                  <td>{t.type}</td>
                  <td>{bytes(t.size_bytes)}</td>
                  <td>{t.vcpus}</td>
                  <td>{mib(t.memory_mb)}</td>
                  <td>{when(t.created_at)}</td>
                  <td className="row-actions">
                    <button type="button" onClick={() => navigate(`/sandboxes?create=${encodeURIComponent(t.name)}`)} aria-label={`Create a sandbox from ${t.name}`}>
                      New sandbox
                    </button>
                    {!t.platform && (
                      <button type="button" className="danger" onClick={() => setToDelete(t)} aria-label={`Delete template ${t.name}`}>Delete</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {toDelete && (
        <Confirm
          title="Delete template"
          message={<>Delete template <strong>{toDelete.name}</strong>? Running sandboxes keep running.</>}
          action="Delete"
          busy={busy}
          error={error}
          onClose={() => { setToDelete(null); setError(''); }}
          onConfirm={() => void remove(toDelete)}
        />
      )}
    </section>
  );
}

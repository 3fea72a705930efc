import { useState, type ChangeEvent, type FormEvent } from 'react';
import { api, apiBlob, del, errorMessage, post, qs } from '../api';
import { useGet } from '../query';
import type { FileEntry } from '../types';
import { Confirm } from '../components/Dialog';
import { ErrorBox, Show } from '../components/States';
import { bytes, when } from '../format';

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function save(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function sortEntries(r: { items: FileEntry[] }): { items: FileEntry[] } {
  const items = [...r.items].sort((a, b) => (a.type === 'dir') === (b.type === 'dir') ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1);
  return { items };
}

/** FileBrowser lists a directory of the sandbox and uploads, downloads, creates and deletes. */
export function FileBrowser({ sandboxId, initialDir = '/' }: { sandboxId: string; initialDir?: string }) {
  const base = `/v1/sandboxes/${encodeURIComponent(sandboxId)}/files`;
  const [dir, setDir] = useState(initialDir);
  const [newDir, setNewDir] = useState('');
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const [toDelete, setToDelete] = useState<FileEntry | null>(null);
  const list = useGet<{ items: FileEntry[] }>(`${base}/list${qs({ path: dir, depth: 1 })}`, { select: sortEntries });

  const doing = async (what: string, f: () => Promise<void>) => {
    setBusy(what);
    setError('');
    try {
      await f();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy('');
    }
  };

  const upload = (e: ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(e.target.files ?? []);
    e.target.value = '';
    if (files.length === 0) return;
    void doing(`Uploading ${files.map((f) => f.name).join(', ')}…`, async () => {
      for (const f of files) await api('PUT', `${base}${qs({ path: joinPath(dir, f.name) })}`, { raw: f });
      await list.refetch();
    });
  };
  const mkdir = (e: FormEvent) => {
    e.preventDefault();
    const name = newDir.trim();
    if (!name) return;
    void doing('Creating folder…', async () => {
      await post(`${base}/mkdir`, { path: name.startsWith('/') ? name : joinPath(dir, name) });
      setNewDir('');
      await list.refetch();
    });
  };
  const download = (f: FileEntry) =>
    void doing(`Downloading ${f.name}…`, async () => save(await apiBlob(`${base}${qs({ path: f.path })}`), f.name));
  const remove = (f: FileEntry) =>
    void doing(`Deleting ${f.name}…`, async () => {
      await del(`${base}${qs({ path: f.path, recursive: f.type === 'dir' ? 'true' : undefined })}`);
      setToDelete(null);
      await list.refetch();
    });

  const crumbs = dir.split('/').filter(Boolean);
  return (
    <section className="panel" aria-labelledby="files-title">
      <div className="panel-head">
        <h2 id="files-title">Files</h2>
        <nav aria-label="Current folder" className="crumbs">
          <button type="button" className="link" onClick={() => setDir('/')} aria-label="Go to /">/</button>
          {crumbs.map((c, i) => {
            const p = '/' + crumbs.slice(0, i + 1).join('/');
            return (
              <span key={p}>
                <button type="button" className="link" onClick={() => setDir(p)} aria-current={p === dir ? 'location' : undefined}>{c}</button>
                {i < crumbs.length - 1 && '/'}
              </span>
            );
          })}
        </nav>
      </div>
      <div className="toolbar">
        <button type="button" onClick={() => setDir(parentOf(dir))} disabled={dir === '/'} aria-label="Go to the parent folder">Up</button>
        <button type="button" onClick={() => void list.refetch()} aria-label="Refresh files">Refresh</button>
        <label className="button">
          Upload
          <input type="file" multiple onChange={upload} className="sr-only" aria-label={`Upload files to ${dir}`} />
        </label>
        <form onSubmit={mkdir} className="inline">
          <input aria-label="New folder name" placeholder="new folder" value={newDir} onChange={(e) => setNewDir(e.target.value)} />
          <button type="submit" disabled={!newDir.trim()}>Create folder</button>
        </form>
      </div>
      {busy && <p className="muted" role="status">{busy}</p>}
      {error && <ErrorBox message={error} />}
      <Show load={list} what="files" isEmpty={(d) => d.items.length === 0} empty={<p>This folder is empty.</p>}>
        {(d) => (
          <div className="scroll">
          <table className="files">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Modified</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {d.items.map((f) => (
                <tr key={f.path} data-testid="file-row">
                  <td>
                    {f.type === 'dir' ? (
                      <button type="button" className="link" onClick={() => setDir(f.path)} aria-label={`Open folder ${f.name}`}>{f.name}/</button>
                    ) : (
                      <span>{f.name}{f.type === 'symlink' ? ' →' : ''}{f.type === 'other' ? ' (special)' : ''}</span>
                    )}
                  </td>
                  <td className="nw">{f.type === 'dir' ? '—' : bytes(f.size)}</td>
                  <td className="small nw">{when(f.mtime)}</td>
                  <td className="row-actions">
                    {f.type === 'file' && (
                      <button type="button" onClick={() => download(f)} aria-label={`Download ${f.name}`}>Download</button>
                    )}
                    <button type="button" className="danger" onClick={() => setToDelete(f)} aria-label={`Delete ${f.name}`}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </Show>
      {toDelete && (
        <Confirm
          title="Delete"
          message={<>Delete <code>{toDelete.path}</code>{toDelete.type === 'dir' ? ' and everything in it' : ''}?</>}
          action="Delete"
          busy={busy.startsWith('Deleting')}
          error={error}
          onClose={() => setToDelete(null)}
          onConfirm={() => remove(toDelete)}
        />
      )}
    </section>
  );
}

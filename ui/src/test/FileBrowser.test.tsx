import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderPage } from './render';
import { FileBrowser, joinPath, parentOf } from '../pages/FileBrowser';
import { apiError, mockFetch } from './fetchMock';

const entry = (name: string, dir: string, type: 'file' | 'dir', size = 0) => ({
  name, path: joinPath(dir, name), type, size, mode: 420, mtime: '2026-01-02T03:04:05Z',
});

const base = '/v1/sandboxes/sb-1/files';

describe('FileBrowser', () => {
  it('lists a folder with folders first and navigates into one', async () => {
    const { calls } = mockFetch({
      [`GET ${base}/list?path=%2F&depth=1`]: { json: { items: [entry('notes.txt', '/', 'file', 2048), entry('etc', '/', 'dir'), entry('app', '/', 'dir')] } },
      [`GET ${base}/list?path=%2Fetc&depth=1`]: { json: { items: [entry('hostname', '/etc', 'file', 7)] } },
    });
    renderPage(<FileBrowser sandboxId="sb-1" />);
    const rows = await screen.findAllByTestId('file-row');
    expect(rows.map((r) => r.querySelector('td')!.textContent)).toEqual(['app/', 'etc/', 'notes.txt']);
    expect(within(rows[2]).getByText('2.0 KiB')).toBeTruthy();
    expect(within(rows[2]).getByRole('button', { name: 'Download notes.txt' })).toBeTruthy();
    expect(within(rows[0]).queryByRole('button', { name: /Download/ })).toBeNull();

    fireEvent.click(screen.getByRole('button', { name: 'Open folder etc' }));
    await waitFor(() => expect(screen.getAllByTestId('file-row')).toHaveLength(1));
    expect(screen.getByText(/hostname/)).toBeTruthy();
    expect(calls.map((c) => c.url)).toEqual([`${base}/list?path=%2F&depth=1`, `${base}/list?path=%2Fetc&depth=1`]);
    expect(screen.getByRole('button', { name: 'Go to the parent folder' })).toHaveProperty('disabled', false);
  });

  it('shows the empty state and list errors as sent', async () => {
    mockFetch({
      [`GET ${base}/list?path=%2Fempty&depth=1`]: { json: { items: [] } },
      [`GET ${base}/list?path=%2Fnope&depth=1`]: apiError(404, 'not_found', 'path /nope not found'),
    });
    const { unmount } = renderPage(<FileBrowser sandboxId="sb-1" initialDir="/empty" />);
    expect(await screen.findByText('This folder is empty.')).toBeTruthy();
    unmount();
    renderPage(<FileBrowser sandboxId="sb-1" initialDir="/nope" />);
    expect((await screen.findByRole('alert')).textContent).toContain('path /nope not found');
  });

  it('uploads the raw file body with PUT and lists again', async () => {
    let listed = 0;
    const { calls } = mockFetch({
      [`GET ${base}/list?path=%2Ftmp&depth=1`]: () => ({ json: { items: listed++ === 0 ? [] : [entry('a.txt', '/tmp', 'file', 5)] } }),
      [`PUT ${base}?path=%2Ftmp%2Fa.txt`]: { json: { path: '/tmp/a.txt', size: 5 } },
    });
    renderPage(<FileBrowser sandboxId="sb-1" initialDir="/tmp" />);
    await screen.findByText('This folder is empty.');
    const file = new File(['hello'], 'a.txt', { type: 'text/plain' });
    fireEvent.change(screen.getByLabelText('Upload files to /tmp'), { target: { files: [file] } });
    await screen.findByText(/a\.txt/);
    const put = calls.find((c) => c.method === 'PUT')!;
    expect(put.body).toBe(file);
    expect(put.headers['Content-Type']).toBe('application/octet-stream');
  });

  it('path helpers', () => {
    expect(joinPath('/', 'a')).toBe('/a');
    expect(joinPath('/a', 'b')).toBe('/a/b');
    expect(parentOf('/a/b')).toBe('/a');
    expect(parentOf('/a')).toBe('/');
  });
});

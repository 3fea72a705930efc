import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderPage } from './render';
import { setCsrfToken } from '../api';
import { BuildsTab } from '../pages/admin/Builds';
import { build } from './builds';
import { mockFetch } from './fetchMock';

describe('BuildsTab', () => {
  it('shows status badges and progress bars from current_step/total_steps', async () => {
    mockFetch({
      'GET /v1/admin/builds': {
        json: {
          items: [
            build({ id: 'bld-1', name: 'py', status: 'running', current_step: 2, total_steps: 5 }),
            build({ id: 'bld-2', name: 'node', status: 'succeeded', current_step: 3, total_steps: 3, finished_at: '2026-01-02T03:05:06Z' }),
            build({ id: 'bld-3', name: 'bad', status: 'failed', current_step: 1, total_steps: 4, error: 'step 1 exited with code 2' }),
          ],
        },
      },
    });
    renderPage(<BuildsTab />);
    const rows = await screen.findAllByTestId('build-row');
    expect(rows).toHaveLength(3);

    const running = screen.getByRole('progressbar', { name: 'Progress of build py' }) as HTMLProgressElement;
    expect(running.getAttribute('value')).toBe('2');
    expect(running.getAttribute('max')).toBe('5');
    expect(within(rows[0]).getByText('2/5')).toBeTruthy();
    expect(within(rows[0]).getByText('running').getAttribute('data-status')).toBe('running');
    expect(within(rows[0]).getByRole('button', { name: 'Cancel build py' })).toBeTruthy();

    const done = screen.getByRole('progressbar', { name: 'Progress of build node' });
    expect(done.getAttribute('value')).toBe('3');
    expect(within(rows[1]).getByText('succeeded').className).toContain('ok');
    expect(within(rows[1]).queryByRole('button', { name: /Cancel/ })).toBeNull();

    expect(within(rows[2]).getByText('failed').className).toContain('bad');
    expect(within(rows[2]).getByText('step 1 exited with code 2')).toBeTruthy();
  });

  it('expands a build into its per-step logs', async () => {
    const { calls } = mockFetch({
      'GET /v1/admin/builds': { json: { items: [build({ id: 'bld-9', name: 'tools', status: 'failed', current_step: 2, total_steps: 2 })] } },
      'GET /v1/admin/builds/bld-9': {
        json: build({
          id: 'bld-9', name: 'tools', status: 'failed',
          logs: [
            { step: 1, cmd: 'echo hello', stdout: 'hello\n', stderr: '', stdout_truncated: false, stderr_truncated: false, exit_code: 0, started_at: '', elapsed_ms: 12 },
            { step: 2, cmd: 'false', stdout: '', stderr: 'boom\n', stdout_truncated: false, stderr_truncated: true, exit_code: 1, started_at: '', elapsed_ms: 2500 },
          ],
        }),
      },
    });
    renderPage(<BuildsTab />);
    const toggle = await screen.findByRole('button', { name: 'Show logs of build tools' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    const steps = await screen.findAllByTestId('build-step');
    expect(steps).toHaveLength(2);
    expect(within(steps[0]).getByText('echo hello')).toBeTruthy();
    expect(within(steps[0]).getByLabelText('stdout of step 1').textContent).toBe('hello\n');
    expect(within(steps[0]).getByTestId('step-exit').textContent).toBe('exit code 0');
    expect(within(steps[0]).getByText('12 ms')).toBeTruthy();
    expect(within(steps[1]).getByLabelText('stderr of step 2').textContent).toBe('boom\n\n… (truncated)');
    expect(within(steps[1]).getByTestId('step-exit').textContent).toBe('exit code 1');
    expect(within(steps[1]).getByText('2.5 s')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Hide logs of build tools' }).getAttribute('aria-expanded')).toBe('true');
    expect(calls.map((c) => c.url)).toEqual(['/v1/admin/builds?limit=50', '/v1/admin/builds/bld-9']);

    fireEvent.click(screen.getByRole('button', { name: 'Hide logs of build tools' }));
    expect(screen.queryAllByTestId('build-step')).toHaveLength(0);
  });

  it('cancels an active build with the CSRF-protected POST', async () => {
    const { calls } = mockFetch({
      'GET /v1/admin/builds': { json: { items: [build({ id: 'bld-4', name: 'slow', status: 'queued', current_step: 0 })] } },
      'POST /v1/admin/builds/bld-4/cancel': { json: build({ id: 'bld-4', name: 'slow', status: 'cancelled', current_step: 0 }) },
    });
    setCsrfToken('csrf-xyz');
    renderPage(<BuildsTab />);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel build slow' }));
    await waitFor(() => expect(screen.getByTestId('build-row').querySelector('.badge')?.textContent).toBe('cancelled'));
    expect(calls[1].method).toBe('POST');
    expect(calls[1].url).toBe('/v1/admin/builds/bld-4/cancel');
    expect(calls[1].headers['X-CSRF-Token']).toBe('csrf-xyz');
    expect(calls[0].headers['X-CSRF-Token']).toBeUndefined(); // GETs carry none
    setCsrfToken('');
    expect(screen.queryByRole('button', { name: 'Cancel build slow' })).toBeNull();
  });

  it('shows an empty state and a list error as sent', async () => {
    mockFetch({ 'GET /v1/admin/builds': { json: { items: [] } } });
    const { unmount } = renderPage(<BuildsTab />);
    expect(await screen.findByText(/No builds/)).toBeTruthy();
    unmount();
    mockFetch({ 'GET /v1/admin/builds': { status: 403, json: { error: { code: 'permission_denied', message: 'this route needs an admin' } } } });
    renderPage(<BuildsTab />);
    expect((await screen.findByRole('alert')).textContent).toContain('this route needs an admin');
  });
});

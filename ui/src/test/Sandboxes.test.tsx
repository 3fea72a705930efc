import { screen, waitFor, within } from '@testing-library/react';
import { SandboxesPage } from '../pages/Sandboxes';
import type { Sandbox } from '../types';
import { mockFetch } from './fetchMock';
import { renderPage } from './render';

const sb = (id: string, status: Sandbox['status']): Sandbox => ({
  id, status, team_id: 'team-1', template: 'base', template_id: 'tpl-1', vcpus: 1, memory_mb: 512, disk_size_mb: 20480,
  timeout_sec: 300, allow_internet_access: true, metadata: {}, node_id: 'node-1', created_at: '2026-01-02T03:04:05Z',
});
const current = { time: '2026-01-02T03:05:00Z', cpu_percent: 42.25, vcpus: 1, memory_used_bytes: 64 << 20, memory_limit_bytes: 512 << 20, disk_used_bytes: 0, disk_size_bytes: 0, net_rx_bytes: 0, net_tx_bytes: 0 };

describe('SandboxesPage', () => {
  it("shows each live row's newest CPU and memory, one metrics call per live row", async () => {
    const { calls } = mockFetch({
      'GET /v1/sandboxes': { json: { items: [sb('sb-run', 'running'), sb('sb-pause', 'paused'), sb('sb-dead', 'killed')] } },
      'GET /v1/templates': { json: { items: [] } },
      'GET /v1/sandboxes/sb-run/metrics': { json: { sandbox_id: 'sb-run', node_id: 'node-1', interval_sec: 5, current, series: [] } },
      'GET /v1/sandboxes/sb-pause/metrics': { json: { sandbox_id: 'sb-pause', node_id: 'node-1', interval_sec: 5, current: null, series: [] } },
    });
    renderPage(<SandboxesPage />, '/sandboxes');
    const rows = await screen.findAllByTestId('sandbox-row');
    expect(rows.map((r) => r.getAttribute('data-sandbox-id'))).toEqual(['sb-run', 'sb-pause', 'sb-dead']);
    await waitFor(() => expect(within(rows[0]).getByTestId('cpu-now').textContent).toBe('42.3%'));
    expect(within(rows[0]).getByTestId('mem-now').textContent).toBe('64 MiB / 512 MiB');
    expect(within(rows[1]).getByTestId('cpu-now').textContent).toBe('—'); // no sample yet
    expect(within(rows[2]).getByTestId('cpu-now').textContent).toBe('—');
    const metrics = calls.filter((c) => c.url.includes('/metrics'));
    expect(metrics.map((c) => c.url.split('?')[0]).sort()).toEqual(['/v1/sandboxes/sb-pause/metrics', '/v1/sandboxes/sb-run/metrics']);
    expect(metrics.every((c) => /\?since=\d{4}-/.test(c.url))).toBe(true); // only the newest sample is wanted
  });

  it('loads the list again when a live row turns out to have ended', async () => {
    let listed = 0;
    const { calls } = mockFetch({
      'GET /v1/sandboxes': () => ({ json: { items: [sb('sb-gone', listed++ === 0 ? 'running' : 'expired')] } }),
      'GET /v1/templates': { json: { items: [] } },
      'GET /v1/sandboxes/sb-gone/metrics': { status: 409, json: { error: { code: 'conflict', message: 'sandbox sb-gone has ended' } } },
    });
    renderPage(<SandboxesPage />, '/sandboxes');
    await waitFor(() => expect(screen.getByTestId('sandbox-row').textContent).toContain('expired'));
    expect(calls.filter((c) => c.url.startsWith('/v1/sandboxes?')).length).toBe(2);
    expect(calls.filter((c) => c.url.includes('/metrics')).length).toBe(1);
  });
});

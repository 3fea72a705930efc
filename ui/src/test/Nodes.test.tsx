import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderPage } from './render';
import { NodesPage } from '../pages/admin/Nodes';
import type { ClusterNode } from '../types';
import { mockFetch } from './fetchMock';

const node = (over: Partial<ClusterNode>): ClusterNode => ({
  id: 'node-1', name: 'alpha', role: 'server', status: 'alive', http_addr: '127.0.0.1:8080', draining: false, version: 'dev', sandboxes: 3,
  capacity: { vcpus_total: 8, vcpus_free: 2, memory_mb_total: 16384, memory_mb_free: 8192, disk_bytes_free: 1 << 30, sandboxes_running: 3, sandboxes_max: 10 },
  ...over,
});

describe('NodesPage', () => {
  it('marks the leader, shows capacity and load, and drains a node', async () => {
    let draining = false;
    const { calls } = mockFetch({
      'GET /v1/admin/nodes': () => ({ json: { leader: 'node-1', nodes: [node({ draining }), node({ id: 'node-2', name: 'beta', status: 'suspect', role: 'client' })] } }),
      'GET /v1/admin/nodes/node-1/metrics': {
        json: {
          node_id: 'node-1', time: '', interval_sec: 5, capacity: node({}).capacity,
          host: { load1: 1.5, load5: 0.75, load15: 0.25, memory_available_bytes: 6 * 2 ** 30 },
          sandboxes: { sampled: 3, cpu_cores_used: 4, vcpus_limit: 6, memory_used_bytes: 4 * 2 ** 30, memory_limit_bytes: 8 * 2 ** 30, disk_used_bytes: 2 ** 30, disk_size_bytes: 4 * 2 ** 30, net_rx_bytes: 0, net_tx_bytes: 0 },
        },
      },
      'POST /v1/admin/nodes/node-1/drain': () => {
        draining = true;
        return { json: node({ draining: true }) };
      },
    });
    renderPage(<NodesPage />);
    const cards = await screen.findAllByTestId('node-card');
    expect(cards).toHaveLength(2);
    expect(within(cards[0]).getByText('leader')).toBeTruthy();
    expect(within(cards[1]).queryByText('leader')).toBeNull();
    expect(within(cards[1]).getByText('suspect')).toBeTruthy();
    const running = within(cards[0]).getByRole('meter', { name: 'Sandboxes used: 30%' });
    expect(running.getAttribute('value')).toBe('3');
    expect(running.getAttribute('max')).toBe('10');
    expect(within(cards[0]).getByTestId('node-capacity').textContent).toBe('8 vCPUs and 16 GiB on the host; 2 vCPUs, 8.0 GiB and 1.0 GiB of disk free to promise');

    // The load: only the alive node is asked for it.
    const load = await within(cards[0]).findByTestId('node-load');
    expect(within(load).getByRole('meter', { name: 'CPU in use used: 50%' }).getAttribute('value')).toBe('4');
    expect(within(load).getByRole('meter', { name: 'Memory in use used: 25%' })).toBeTruthy();
    expect(within(load).getByRole('meter', { name: 'Disk in use used: 25%' })).toBeTruthy();
    expect(within(load).getByTestId('reserved').textContent).toBe('Reserved by them: 6 vCPUs, 8.0 GiB memory, 4.0 GiB disk');
    expect(within(load).getByTestId('host-load').textContent).toBe('Host load 1.50 / 0.75 / 0.25 · 6.0 GiB memory available');
    expect(within(cards[1]).queryByTestId('node-load')).toBeNull();
    expect(calls.some((c) => c.url === '/v1/admin/nodes/node-2/metrics')).toBe(false);

    fireEvent.click(within(cards[0]).getByRole('button', { name: 'Drain node alpha' }));
    await waitFor(() => expect(screen.getAllByTestId('node-card')[0].textContent).toContain('draining'));
    expect(within(screen.getAllByTestId('node-card')[0]).getByRole('button', { name: 'Undrain node alpha' })).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/v1/admin/nodes/node-1/drain']);
  });
});

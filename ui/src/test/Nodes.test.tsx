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
  it('marks the leader, draws capacity bars and drains a node', async () => {
    let draining = false;
    const { calls } = mockFetch({
      'GET /v1/admin/nodes': () => ({ json: { leader: 'node-1', nodes: [node({ draining }), node({ id: 'node-2', name: 'beta', status: 'suspect', role: 'client' })] } }),
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
    const cpu = within(cards[0]).getByRole('meter', { name: 'vCPUs used: 75%' });
    expect(cpu.getAttribute('value')).toBe('6');
    expect(cpu.getAttribute('max')).toBe('8');
    expect(within(cards[0]).getByRole('meter', { name: 'Memory used: 50%' })).toBeTruthy();
    expect(within(cards[0]).getByRole('meter', { name: 'Sandboxes used: 30%' })).toBeTruthy();

    fireEvent.click(within(cards[0]).getByRole('button', { name: 'Drain node alpha' }));
    await waitFor(() => expect(screen.getAllByTestId('node-card')[0].textContent).toContain('draining'));
    expect(within(screen.getAllByTestId('node-card')[0]).getByRole('button', { name: 'Undrain node alpha' })).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/v1/admin/nodes/node-1/drain']);
  });
});

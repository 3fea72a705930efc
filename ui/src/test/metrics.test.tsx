import { act, screen } from '@testing-library/react';
import { merge, netRates, pollMsFor } from '../metrics';
import { SandboxMetrics } from '../pages/SandboxMetrics';
import type { MetricSample, SandboxMetrics as Metrics } from '../types';
import { mockFetch } from './fetchMock';
import { renderPage } from './render';

// uPlot needs a real canvas; this stand-in records what each chart was given.
const plots = vi.hoisted(() => [] as { series: string[]; data: unknown[][]; destroyed: boolean }[]);
vi.mock('uplot', () => ({
  default: class {
    rec: { series: string[]; data: unknown[][]; destroyed: boolean };
    constructor(opts: { series: { label?: string }[] }, data: unknown[][]) {
      this.rec = { series: opts.series.slice(1).map((s) => s.label ?? ''), data, destroyed: false };
      plots.push(this.rec);
    }
    setData(d: unknown[][]) {
      this.rec.data = d;
    }
    setSize() {}
    destroy() {
      this.rec.destroyed = true;
    }
  },
}));

const t0 = Date.parse('2026-01-02T03:00:00Z');
const sample = (i: number, over: Partial<MetricSample> = {}): MetricSample => ({
  time: new Date(t0 + i * 5000).toISOString(),
  cpu_percent: 10 * i,
  vcpus: 2,
  memory_used_bytes: (100 + i) * 1024 * 1024,
  memory_limit_bytes: 512 * 1024 * 1024,
  disk_used_bytes: 3 << 20,
  disk_size_bytes: 1 << 30,
  net_rx_bytes: 1000 * i,
  net_tx_bytes: 500 * i,
  ...over,
});
const view = (series: MetricSample[]): Metrics => ({ sandbox_id: 'sb-1', node_id: 'node-1', interval_sec: 5, current: series.at(-1) ?? null, series });
const advance = (ms: number) => act(async () => {
  await vi.advanceTimersByTimeAsync(ms);
  await vi.advanceTimersByTimeAsync(1);
});

describe('SandboxMetrics', () => {
  beforeEach(() => {
    plots.length = 0;
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('charts the kept samples, then polls with since for newer ones only', async () => {
    const answers = [view([sample(0), sample(1), sample(2)]), view([sample(3)])];
    let n = 0;
    const { calls } = mockFetch({ 'GET /v1/sandboxes/sb-1/metrics': () => ({ json: answers[Math.min(n++, 1)] }) });
    renderPage(<SandboxMetrics sandboxId="sb-1" live />);
    await advance(0);
    const charts = screen.getAllByTestId('chart');
    expect(charts.map((c) => c.getAttribute('aria-label'))).toEqual(['CPU (% of the vCPU limit)', 'Memory', 'Disk', 'Network']);
    expect(charts.map((c) => c.getAttribute('data-points'))).toEqual(['3', '3', '3', '3']);
    expect(plots.map((p) => p.series)).toEqual([['CPU'], ['used'], ['used'], ['received', 'sent']]);
    expect(plots[0].data).toEqual([[t0 / 1000, t0 / 1000 + 5, t0 / 1000 + 10], [0, 10, 20]]);
    expect(plots[3].data.slice(1)).toEqual([[null, 200, 200], [null, 100, 100]]); // bytes per second
    const now = screen.getByTestId('metrics-current');
    expect(now.textContent).toContain('CPU20% of 2 vCPU');
    expect(now.textContent).toContain('Memory102 MiB / 512 MiB');
    expect(now.textContent).toContain('Network2.0 KiB in, 1000 B out');

    await advance(pollMsFor(5));
    expect(calls.map((c) => c.url)).toEqual([
      '/v1/sandboxes/sb-1/metrics',
      `/v1/sandboxes/sb-1/metrics?since=${encodeURIComponent(sample(2).time)}`,
    ]);
    expect(screen.getAllByTestId('chart')[0].getAttribute('data-points')).toBe('4');
    expect(plots[0].data[1]).toEqual([0, 10, 20, 30]);
    expect(screen.getByTestId('metrics-current').textContent).toContain('CPU30% of 2 vCPU');
  });

  it('says when the first sample comes, and asks nothing of a sandbox that is not live', async () => {
    const { calls } = mockFetch({ 'GET /v1/sandboxes/sb-1/metrics': { json: view([]) } });
    const { unmount } = renderPage(<SandboxMetrics sandboxId="sb-1" live />);
    await advance(0);
    expect(screen.getByText('The first sample comes 5 s after the sandbox starts.')).toBeTruthy();
    expect(screen.getAllByTestId('chart')[0].getAttribute('data-points')).toBe('0');
    unmount();
    expect(plots.every((p) => p.destroyed)).toBe(true);
    calls.length = 0;
    renderPage(<SandboxMetrics sandboxId="sb-1" live={false} />);
    await advance(30_000);
    expect(calls).toHaveLength(0);
    expect(screen.getByText(/sampled while the sandbox is running or paused/)).toBeTruthy();
  });

  it('shows the API error as sent; an ended sandbox stops the polling and is loaded again', async () => {
    const { calls } = mockFetch({ 'GET /v1/sandboxes/sb-1/metrics': { status: 409, json: { error: { code: 'conflict', message: 'sandbox sb-1 has ended' } } } });
    const { client } = renderPage(<SandboxMetrics sandboxId="sb-1" live />);
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    await advance(0);
    expect(screen.getByRole('alert').textContent).toContain('sandbox sb-1 has ended');
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['/v1/sandboxes/sb-1'] });
    await advance(30_000);
    expect(calls).toHaveLength(1);
  });
});

describe('metrics helpers', () => {
  it('merge appends newer samples only and keeps the last hour', () => {
    const old = view([sample(0), sample(1)]);
    expect(merge(old, view([sample(1), sample(2)])).series.map((s) => s.time)).toEqual([sample(0), sample(1), sample(2)].map((s) => s.time));
    const hourLater = sample(0, { time: new Date(t0 + 60 * 60 * 1000 + 1).toISOString() });
    expect(merge(old, view([hourLater])).series.map((s) => s.time)).toEqual([sample(1).time, hourLater.time]);
  });

  it('netRates has no rate for the first sample or a counter that went down', () => {
    const r = netRates([sample(0), sample(2), sample(1)]);
    expect(r.rx).toEqual([null, 200, null]);
    expect(r.tx).toEqual([null, 100, null]);
  });

  it('pollMsFor polls every few seconds', () => {
    expect(pollMsFor(undefined)).toBe(5000);
    expect(pollMsFor(0.1)).toBe(2000);
    expect(pollMsFor(1)).toBe(2000);
    expect(pollMsFor(3600)).toBe(10_000);
  });
});

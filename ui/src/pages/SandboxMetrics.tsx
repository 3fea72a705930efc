import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../api';
import { ended, netRates, useSandboxMetrics } from '../metrics';
import type { MetricSample } from '../types';
import { Chart } from '../components/Chart';
import { ErrorBox, Loading } from '../components/States';
import { bytes } from '../format';

const pct = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)}%`;
const rate = (v: number) => `${bytes(v)}/s`;

/** Usage is the newest sample in one line: CPU, memory, disk and network totals. */
function Usage({ s }: { s: MetricSample }) {
  return (
    <dl className="facts" data-testid="metrics-current">
      <dt>CPU</dt><dd>{pct(s.cpu_percent)} of {s.vcpus || 'host'} vCPU</dd>
      <dt>Memory</dt><dd>{bytes(s.memory_used_bytes)} / {s.memory_limit_bytes ? bytes(s.memory_limit_bytes) : 'no limit'}</dd>
      <dt>Disk</dt><dd>{bytes(s.disk_used_bytes)} / {bytes(s.disk_size_bytes)}</dd>
      <dt>Network</dt><dd>{bytes(s.net_rx_bytes)} in, {bytes(s.net_tx_bytes)} out</dd>
    </dl>
  );
}

/** SandboxMetrics shows a sandbox's newest sample and charts of its kept history, polled. */
export function SandboxMetrics({ sandboxId, live }: { sandboxId: string; live: boolean }) {
  const m = useSandboxMetrics(sandboxId, live);
  const client = useQueryClient();
  const gone = ended(m.error);
  // The sandbox ended (it expired, or was killed elsewhere): load it again for its new state.
  useEffect(() => {
    if (gone) void client.invalidateQueries({ queryKey: [`/v1/sandboxes/${encodeURIComponent(sandboxId)}`] });
  }, [gone, client, sandboxId]);
  if (!live) return <p className="muted">Metrics are sampled while the sandbox is running or paused.</p>;
  if (!m.data) return m.error ? <ErrorBox message={errorMessage(m.error)} onRetry={() => void m.refetch()} /> : <Loading what="metrics" />;
  const { series, current, interval_sec } = m.data;
  const times = series.map((s) => Date.parse(s.time) / 1000);
  const net = netRates(series);
  return (
    <div className="metrics">
      {m.error && <ErrorBox message={errorMessage(m.error)} onRetry={() => void m.refetch()} />}
      {current ? <Usage s={current} /> : <p className="muted" role="status">The first sample comes {interval_sec} s after the sandbox starts.</p>}
      <div className="charts">
        <Chart title="CPU (% of the vCPU limit)" times={times} format={pct} max={100} series={[{ label: 'CPU', values: series.map((s) => s.cpu_percent) }]} />
        <Chart title="Memory" times={times} format={bytes} series={[{ label: 'used', values: series.map((s) => s.memory_used_bytes) }]} />
        <Chart title="Disk" times={times} format={bytes} series={[{ label: 'used', values: series.map((s) => s.disk_used_bytes) }]} />
        <Chart title="Network" times={times} format={rate} series={[{ label: 'received', values: net.rx }, { label: 'sent', values: net.tx }]} />
      </div>
    </div>
  );
}

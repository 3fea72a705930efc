// Queries of the metrics routes. A sandbox page keeps the samples it has and
// asks only for newer ones (`since` = its newest sample's time); the list's
// rows ask for the newest sample alone.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, get, qs } from './api';
import { useGet } from './query';
import type { MetricSample, NodeMetrics, SandboxMetrics } from './types';

/** historyMs bounds the samples a page keeps, as the node does by default. */
export const historyMs = 60 * 60 * 1000;

/** pollMsFor answers how often to ask for samples taken every intervalSec: every few seconds. */
export function pollMsFor(intervalSec: number | undefined): number {
  return Math.min(10_000, Math.max(2_000, (intervalSec ?? 5) * 1000));
}

/** ended answers whether err says the sandbox has ended (409): its samples went with it, so polling stops. */
export function ended(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}

const metricsPath = (id: string) => `/v1/sandboxes/${encodeURIComponent(id)}/metrics`;

/** merge appends the newer samples of next to prev's and drops those older than historyMs. */
export function merge(prev: SandboxMetrics, next: SandboxMetrics): SandboxMetrics {
  const last = Date.parse(prev.series.at(-1)?.time ?? '') || 0;
  const series = [...prev.series, ...next.series.filter((s) => Date.parse(s.time) > last)];
  const newest = Date.parse(series.at(-1)?.time ?? '');
  const keep = Number.isNaN(newest) ? series : series.filter((s) => newest - Date.parse(s.time) <= historyMs);
  return { ...next, series: keep };
}

/** useSandboxMetrics polls a sandbox's samples while enabled. */
export function useSandboxMetrics(id: string, enabled: boolean) {
  const client = useQueryClient();
  const key = ['metrics', id];
  return useQuery<SandboxMetrics>({
    queryKey: key,
    enabled,
    refetchInterval: (q) => (ended(q.state.error) ? false : pollMsFor(q.state.data?.interval_sec)),
    queryFn: async ({ signal }) => {
      const prev = client.getQueryData<SandboxMetrics>(key);
      const since = prev?.series.at(-1)?.time;
      const next = await get<SandboxMetrics>(`${metricsPath(id)}${qs({ since })}`, signal);
      return prev && since ? merge(prev, next) : next;
    },
  });
}

/**
 * useCurrentUsage polls a sandbox's newest sample while enabled: `since` is
 * now, so the series comes back (all but) empty and only `current` matters.
 */
export function useCurrentUsage(id: string, enabled: boolean) {
  return useQuery<{ current: MetricSample | null; interval: number }>({
    queryKey: ['usage', id],
    enabled,
    refetchInterval: (q) => (ended(q.state.error) ? false : pollMsFor(q.state.data?.interval)),
    queryFn: async ({ signal }) => {
      const r = await get<SandboxMetrics>(`${metricsPath(id)}${qs({ since: new Date().toISOString() })}`, signal);
      return { current: r.current, interval: r.interval_sec };
    },
  });
}

/** useNodeMetrics polls a node's load. */
export function useNodeMetrics(id: string) {
  return useGet<NodeMetrics>(`/v1/admin/nodes/${encodeURIComponent(id)}/metrics`, {
    refetchInterval: (q) => pollMsFor(q.state.data?.interval_sec),
  });
}

/** Rates are per-second network rates between successive samples (null for the first). */
export function netRates(series: MetricSample[]): { rx: (number | null)[]; tx: (number | null)[] } {
  const rx: (number | null)[] = [];
  const tx: (number | null)[] = [];
  series.forEach((s, i) => {
    const p = series[i - 1];
    const dt = p ? (Date.parse(s.time) - Date.parse(p.time)) / 1000 : 0;
    // A counter that went down (a restarted interface) has no rate.
    const ok = p && dt > 0 && s.net_rx_bytes >= p.net_rx_bytes && s.net_tx_bytes >= p.net_tx_bytes;
    rx.push(ok ? (s.net_rx_bytes - p.net_rx_bytes) / dt : null);
    tx.push(ok ? (s.net_tx_bytes - p.net_tx_bytes) / dt : null);
  });
  return { rx, tx };
}

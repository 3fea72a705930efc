import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ended, useCurrentUsage } from '../metrics';
import type { Sandbox } from '../types';
import { bytes } from '../format';

/**
 * UsageCells are a list row's CPU and memory cells: the sandbox's newest
 * sample, polled while it is live.
 */
export function UsageCells({ sandbox: s }: { sandbox: Sandbox }) {
  const live = s.status === 'running' || s.status === 'paused';
  const u = useCurrentUsage(s.id, live);
  const client = useQueryClient();
  const gone = ended(u.error);
  // The sandbox ended since the list was loaded: load the list again for its new state.
  useEffect(() => {
    if (gone) void client.invalidateQueries({ queryKey: ['sandboxes'] });
  }, [gone, client]);
  const c = live ? u.data?.current : undefined;
  return (
    <>
      <td className="nw" data-testid="cpu-now">{c ? `${c.cpu_percent.toFixed(1)}%` : '—'}</td>
      <td className="nw" data-testid="mem-now">
        {c ? `${bytes(c.memory_used_bytes)}${c.memory_limit_bytes ? ` / ${bytes(c.memory_limit_bytes)}` : ''}` : '—'}
      </td>
    </>
  );
}

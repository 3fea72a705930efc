import { useState } from 'react';
import { errorMessage, post } from '../../api';
import { useGet } from '../../query';
import type { ClusterNode, Nodes } from '../../types';
import { Badge } from '../../components/Badge';
import { ErrorBox, Show } from '../../components/States';
import { bytes } from '../../format';
import { Capacity } from '../../components/Capacity';
import { NodeLoad } from './NodeLoad';

const pollMs = 5000;

/** NodesPage shows the cluster's members, its leader, each node's capacity and load, and drains nodes. */
export function NodesPage() {
  const nodes = useGet<Nodes>('/v1/admin/nodes', { refetchInterval: pollMs });
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const toggleDrain = async (n: ClusterNode) => {
    setBusy(n.id);
    setError('');
    try {
      await post(`/v1/admin/nodes/${encodeURIComponent(n.id)}/${n.draining ? 'undrain' : 'drain'}`);
      await nodes.refetch();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy('');
    }
  };
  return (
    <section aria-labelledby="nodes-title">
      <div className="page-head">
        <h1 id="nodes-title">Nodes</h1>
        <div className="toolbar">
          <button type="button" onClick={() => void nodes.refetch()} aria-label="Refresh nodes">Refresh</button>
        </div>
      </div>
      {error && <ErrorBox message={error} />}
      <Show load={nodes} what="nodes" isEmpty={(d) => d.nodes.length === 0} empty={<p>No node has joined the cluster.</p>}>
        {(d) => (
          <div className="cards">
            {d.nodes.map((n) => {
              const c = n.capacity;
              return (
                <article key={n.id} className="card node" aria-labelledby={`node-${n.id}`} data-testid="node-card">
                  <header className="node-head">
                    <h2 id={`node-${n.id}`}>{n.name}</h2>
                    {n.id === d.leader && <Badge status="leader" />}
                    <Badge status={n.status} />
                    {n.draining && <Badge status="draining" />}
                  </header>
                  <p className="small muted mono">{n.id} · {n.role} · {n.http_addr} · {n.version}</p>
                  <Capacity label="Sandboxes" used={c.sandboxes_running} total={c.sandboxes_max} unit={String} />
                  {/* Free figures include the overcommit factors, so they may exceed the host's totals. */}
                  <p className="small" data-testid="node-capacity">
                    {c.vcpus_total} vCPUs and {bytes(c.memory_mb_total * 1024 * 1024)} on the host; {c.vcpus_free} vCPUs,{' '}
                    {bytes(c.memory_mb_free * 1024 * 1024)} and {bytes(c.disk_bytes_free)} of disk free to promise
                  </p>
                  {n.status === 'alive' && <NodeLoad node={n} />}
                  <button type="button" disabled={busy === n.id} onClick={() => void toggleDrain(n)} aria-label={`${n.draining ? 'Undrain' : 'Drain'} node ${n.name}`}>
                    {n.draining ? 'Undrain' : 'Drain'}
                  </button>
                </article>
              );
            })}
          </div>
        )}
      </Show>
    </section>
  );
}

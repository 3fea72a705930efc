import { errorMessage } from '../../api';
import { useNodeMetrics } from '../../metrics';
import type { ClusterNode } from '../../types';
import { Capacity } from '../../components/Capacity';
import { ErrorBox } from '../../components/States';
import { bytes } from '../../format';

const mibBytes = 1024 * 1024;

/** NodeLoad is a node's load: what its sandboxes use of its capacity, and its host's load averages. */
export function NodeLoad({ node }: { node: ClusterNode }) {
  const m = useNodeMetrics(node.id);
  if (!m.data) return m.error ? <ErrorBox message={errorMessage(m.error)} /> : <p className="small muted">Loading the load…</p>;
  const { sandboxes: sb, host, capacity: c } = m.data;
  return (
    <div className="node-load" data-testid="node-load">
      <h3 className="small">Load <span className="muted">({sb.sampled} sandboxes sampled)</span></h3>
      <Capacity label="CPU in use" used={sb.cpu_cores_used} total={c.vcpus_total} unit={(x) => `${x.toFixed(2)} vCPU`} />
      <Capacity label="Memory in use" used={sb.memory_used_bytes} total={c.memory_mb_total * mibBytes} unit={bytes} />
      <Capacity label="Disk in use" used={sb.disk_used_bytes} total={sb.disk_size_bytes} unit={bytes} />
      <p className="small" data-testid="reserved">
        Reserved by them: {sb.vcpus_limit} vCPUs, {bytes(sb.memory_limit_bytes)} memory, {bytes(sb.disk_size_bytes)} disk
      </p>
      <p className="small" data-testid="host-load">
        Host load {host.load1.toFixed(2)} / {host.load5.toFixed(2)} / {host.load15.toFixed(2)} · {bytes(host.memory_available_bytes)} memory available
      </p>
      {m.error && <ErrorBox message={errorMessage(m.error)} />}
    </div>
  );
}

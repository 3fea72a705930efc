// getMetrics: the node's samples of the sandbox (one every
// --metrics-interval, the first one interval after it starts), in E2B's
// SandboxMetric shape.
export default async function (s) {
  await s.test('getMetrics: samples with CPU, memory and disk of the sandbox', async () => {
    const sbx = s.sandbox();
    let m = [];
    for (let i = 0; i < 40 && m.length === 0; i++) {
      m = await sbx.getMetrics();
      if (m.length === 0) await new Promise((ok) => setTimeout(ok, 500));
    }
    s.assert(m.length > 0, 'no sample within 20 s');
    const last = m[m.length - 1];
    s.assert(last.timestamp instanceof Date && !isNaN(last.timestamp), `timestamp ${last.timestamp}`);
    s.assert(last.cpuCount >= 1, `cpuCount ${last.cpuCount}`);
    s.assert(last.cpuUsedPct >= 0, `cpuUsedPct ${last.cpuUsedPct}`);
    s.assert(last.memUsed > 0 && last.memTotal >= last.memUsed, `memory ${last.memUsed} of ${last.memTotal}`);
    s.assert(last.diskUsed > 0 && last.diskTotal >= last.diskUsed, `disk ${last.diskUsed} of ${last.diskTotal}`);
    const later = await sbx.getMetrics({ start: new Date(Date.now() + 3600_000) });
    s.eq(later.length, 0, 'no samples after a start in the future');
  });
}

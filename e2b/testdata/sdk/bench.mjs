// Create latency as the SDK sees it through the E2B layer vs Warren's own
// API, interleaved in one run: BENCH_N rounds of Sandbox.create (then kill)
// and POST /v1/sandboxes (then DELETE). Prints one JSON line of
// percentiles in milliseconds. Run by BenchmarkSDKCreate; the suite runner
// ignores this file (no NN- prefix).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = process.env;
const require = createRequire(join(env.E2B_SDK_DIR, 'package.json'));
const { Sandbox } = require('e2b');
const n = Number(env.BENCH_N || 10);
const opts = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL, requestTimeoutMs: 120_000 };

async function warren(method, path, body) {
  const res = await fetch(env.WARREN_URL + path, {
    method,
    headers: { Authorization: `Bearer ${env.E2B_API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const e2bMs = [];
const warrenMs = [];
async function viaE2B() {
  const t0 = performance.now();
  const sbx = await Sandbox.create('base', { ...opts, timeoutMs: 120_000 });
  e2bMs.push(performance.now() - t0);
  await sbx.kill();
}
async function viaWarren() {
  const t0 = performance.now();
  const sb = await warren('POST', '/v1/sandboxes', { template: 'base', timeout_sec: 120 });
  warrenMs.push(performance.now() - t0);
  await warren('DELETE', `/v1/sandboxes/${sb.id}`);
}
await viaE2B(); // warm both paths once, unmeasured
await viaWarren();
e2bMs.length = 0;
warrenMs.length = 0;
for (let i = 0; i < n; i++) {
  if (i % 2 === 0) {
    await viaE2B();
    await viaWarren();
  } else {
    await viaWarren();
    await viaE2B();
  }
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const stats = (xs) => ({ p50: pct(xs, 50), p90: pct(xs, 90), n: xs.length });
console.log(JSON.stringify({ e2b: stats(e2bMs), warren: stats(warrenMs) }));

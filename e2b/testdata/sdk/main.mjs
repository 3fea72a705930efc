// The E2B SDK suite's runner: it loads the unmodified `e2b` package from
// E2B_SDK_DIR (installed there by the Go test, pinned), then runs every
// section file of this directory in name order (NN-area.mjs) and prints
// "N passed, M failed"; the exit status is 1 when anything failed.
//
// A section exports `default async function (s)`, where s is the suite:
//   s.test(name, async () => {...})  one check; a throw fails it
//   s.assert(cond, msg), s.eq(got, want, msg) (JSON, key order ignored),
//   s.rejects(promise, ErrorClass, msg) (answers the error)
//   s.e2b                              the SDK module (s.e2b.Sandbox, error classes)
//   s.opts                             connection options for the node (apiKey, apiUrl, sandboxUrl)
//   s.env                              process.env (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY,
//                                      E2B_OTHER_API_KEY, WARREN_URL, SUITE_RUN, and
//                                      SUITE_ENTRY_NODE in the cluster run: the node
//                                      the SDK talks to, which holds no sandbox)
//   s.state                            shared between sections: s.state.sandbox is the
//                                      sandbox 10-create.mjs made; 90-kill.mjs kills it
//   s.warren(method, path, body)       Warren's own REST API with the same E2B key
// Sections other areas add (commands, files, getHost) go between 10 and 90.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

const env = process.env;
for (const k of ['E2B_SDK_DIR', 'E2B_API_URL', 'E2B_API_KEY', 'E2B_OTHER_API_KEY', 'WARREN_URL', 'SUITE_RUN']) {
  if (!env[k]) {
    console.error(`missing environment variable ${k}`);
    process.exit(2);
  }
}
const require = createRequire(join(env.E2B_SDK_DIR, 'package.json'));
const e2b = require('e2b');

let passed = 0;
let failed = 0;
const only = env.SUITE_ONLY ? new RegExp(env.SUITE_ONLY) : null;

class AssertionError extends Error {}

// canon is JSON with object keys sorted, so eq ignores key order.
function canon(v) {
  return JSON.stringify(v, (_, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

const s = {
  e2b,
  env,
  state: {},
  opts: { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL || undefined, requestTimeoutMs: 120_000 },
  async test(name, fn) {
    const start = Date.now();
    try {
      await fn();
      passed++;
      console.log(`ok   ${name} (${Date.now() - start} ms)`);
    } catch (err) {
      failed++;
      const detail = err instanceof AssertionError ? err.message : inspect(err, { depth: 3 });
      console.log(`FAIL ${name}: ${detail}`);
    }
  },
  assert(cond, msg) {
    if (!cond) throw new AssertionError(msg);
  },
  eq(got, want, msg) {
    const g = canon(got);
    const w = canon(want);
    if (g !== w) throw new AssertionError(`${msg}: got ${g}, want ${w}`);
  },
  async rejects(promise, cls, msg) {
    try {
      await promise;
    } catch (err) {
      if (cls && !(err instanceof cls)) throw new AssertionError(`${msg}: threw ${err?.constructor?.name}: ${err?.message}, want ${cls.name}`);
      return err;
    }
    throw new AssertionError(`${msg}: did not throw`);
  },
  sandbox() {
    if (!s.state.sandbox) throw new AssertionError('no sandbox: the create section failed');
    return s.state.sandbox;
  },
  async warren(method, path, body) {
    const res = await fetch(env.WARREN_URL + path, {
      method,
      headers: { Authorization: `Bearer ${env.E2B_API_KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new AssertionError(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  },
};

const dir = dirname(fileURLToPath(import.meta.url));
const sections = readdirSync(dir).filter((f) => /^\d\d-[a-z0-9-]+\.mjs$/.test(f)).sort();
for (const file of sections) {
  if (only && !only.test(file)) continue;
  console.log(`# ${file}`);
  const mod = await import(pathToFileURL(join(dir, file)).href);
  try {
    await mod.default(s);
  } catch (err) {
    failed++;
    console.log(`FAIL ${file}: the section threw: ${inspect(err, { depth: 3 })}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

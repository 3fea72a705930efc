// Shared helpers of the end-to-end flows: Debian's Chromium driven by
// playwright-core, a fresh profile per run, screenshots under artifacts/ui/,
// and a record of every console error, page error and failed request.
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');

export function config() {
  const url = (process.env.WARREN_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const file = process.env.WARREN_BOOTSTRAP;
  if (!file) throw new Error('WARREN_BOOTSTRAP must name <data-dir>/bootstrap.json of the node under test');
  let boot;
  try {
    boot = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`WARREN_BOOTSTRAP=${file}: ${e.message}`);
  }
  for (const k of ['email', 'password']) {
    if (!boot[k]) throw new Error(`WARREN_BOOTSTRAP=${file}: no "${k}"`);
  }
  // WARREN_TOUR_DIR (scripts/e2e-ui sets docs/ui) receives the screenshots docs/UI.md shows.
  return { url, boot, artifacts: process.env.WARREN_ARTIFACTS ?? join(repoRoot, 'artifacts', 'ui'), tour: process.env.WARREN_TOUR_DIR ?? '' };
}

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** open launches Chromium with a new profile; close() removes the profile. */
export async function open(flow) {
  const cfg = config();
  const shots = join(cfg.artifacts, flow);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'warren-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    baseURL: cfg.url,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText ?? '';
    if (f !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.method()} ${r.url()}: ${f}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  let n = 0;
  /** shot saves a full-page screenshot; with tour, also the viewport as <tour dir>/<tour>.png. */
  const shot = async (name, tour) => {
    n++;
    const file = join(shots, `${String(n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (tour && cfg.tour) {
      mkdirSync(cfg.tour, { recursive: true });
      await page.screenshot({ path: join(cfg.tour, `${tour}.png`), animations: 'disabled', caret: 'initial' });
    }
    return file;
  };
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { cfg, page, context, shot, problems, close, shots };
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** login signs in through the form as the bootstrap admin. */
export async function login(page, boot) {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in to Warren' }).waitFor();
  await page.getByLabel('Email').fill(boot.email);
  await page.getByLabel('Password').fill(boot.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Sandboxes', level: 1 }).waitFor();
}

/** goto opens an app path and waits for its heading. */
export async function goto(page, path, heading) {
  await page.goto(path);
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

/** until polls f until it answers true, failing with msg after timeoutMs. */
export async function until(f, msg, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await f()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${msg}${last ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

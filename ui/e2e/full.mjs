// The full flow of issue 7: build a template and watch it, then use a sandbox
// made from it. `sandbox` runs only the second half, from the base template.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { assert, goto, login, until } from './lib.mjs';
import { checkListUsage, checkMetrics } from './metrics.mjs';
import { useTerminal } from './terminal.mjs';

const buildTimeoutMs = Number(process.env.WARREN_BUILD_TIMEOUT_MS ?? 15 * 60_000);

/** buildTemplate submits a build through the Create Template dialog and watches it succeed. */
async function buildTemplate(page, shot, name) {
  await goto(page, '/admin/templates', 'Templates');
  await shot('admin-templates');
  await page.getByRole('button', { name: 'Create template' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create template' });
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Base template').selectOption('base');
  await dialog.getByLabel('Recipe').fill(['echo step-one', 'sleep 4', 'echo built-by-e2e > /root/marker', 'sleep 4', 'cat /root/marker'].join('\n'));
  await shot('create-template-dialog');
  await dialog.getByRole('button', { name: 'Start build' }).click();
  await dialog.waitFor({ state: 'detached' });

  // The Builds tab opens on the new build; the progress bar advances while it polls.
  await page.getByRole('tab', { name: 'Builds', selected: true }).waitFor();
  const row = page.getByTestId('build-row').filter({ hasText: name });
  await row.waitFor();
  const bar = row.getByTestId('build-progress');
  const seen = new Set();
  const deadline = Date.now() + buildTimeoutMs;
  let status = '';
  let shotRunning = false;
  for (;;) {
    status = await row.locator('.badge').first().innerText();
    seen.add(Number(await bar.getAttribute('value')));
    if (status === 'running' && !shotRunning && seen.size > 0 && Math.max(...seen) > 0) {
      await shot('build-running');
      shotRunning = true;
    }
    if (!['queued', 'running'].includes(status)) break;
    if (Date.now() > deadline) throw new Error(`build ${name} still ${status} after ${buildTimeoutMs} ms`);
    await page.waitForTimeout(500);
  }
  const max = Number(await bar.getAttribute('max'));
  assert(status === 'succeeded', `build ${name} succeeded (status ${status}: ${await row.innerText()})`);
  assert(Number(await bar.getAttribute('value')) === max && max === 5, `the progress bar is full: ${await bar.getAttribute('value')}/${max}`);
  const between = [...seen].filter((v) => v > 0 && v < max);
  assert(between.length > 0, `the progress bar advanced through a value between 0 and ${max} (saw ${[...seen].sort().join(', ')})`);

  // Its per-step logs.
  await row.getByRole('button', { name: `Show logs of build ${name}` }).click();
  const steps = page.getByTestId('build-step');
  await steps.nth(4).waitFor();
  assert((await steps.count()) === 5, 'five steps are logged');
  assert((await steps.nth(0).innerText()).includes('echo step-one'), 'step 1 shows its command');
  assert((await page.getByLabel('stdout of step 1').innerText()).trim() === 'step-one', 'step 1 shows its stdout');
  assert((await page.getByLabel('stdout of step 5').innerText()).trim() === 'built-by-e2e', 'step 5 shows its stdout');
  assert((await steps.nth(1).getByTestId('step-exit').innerText()) === 'exit code 0', 'step 2 shows its exit code');
  await shot('build-logs', 'admin-build-logs');

  // The Templates tab refreshed when the build finished.
  await page.getByRole('tab', { name: 'Templates' }).click();
  await page.getByTestId('admin-template-row').filter({ hasText: name }).waitFor();
  await shot('admin-templates-after-build');
}

/** uploadAndDownload uploads a local file into the open folder and downloads it back. */
async function uploadAndDownload(page, local, content) {
  const fname = basename(local);
  await page.getByLabel('Upload files to /tmp').setInputFiles(local);
  const fileRow = page.getByTestId('file-row').filter({ hasText: fname });
  await fileRow.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), fileRow.getByRole('button', { name: `Download ${fname}` }).click()]);
  const got = readFileSync(await download.path(), 'utf8');
  assert(got === content, `the downloaded file matches the upload (${JSON.stringify(got)})`);
  assert(download.suggestedFilename() === fname, 'the download keeps the file name');
}

/** useSandbox creates a sandbox from template, runs a command, moves a file both ways and kills it. */
async function useSandbox(page, shot, template, marker) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Templates' }).click();
  const tplRow = page.getByTestId('template-row').filter({ has: page.getByText(template, { exact: true }) });
  await tplRow.waitFor();
  await shot('templates');
  await tplRow.getByRole('button', { name: `Create a sandbox from ${template}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Create sandbox' });
  await until(async () => (await dialog.getByLabel('Template').inputValue()) === template, 'the dialog has the template chosen');
  await dialog.getByLabel('Timeout (seconds)').fill('600');
  await shot('create-sandbox-dialog');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/sandboxes\/sb-/, { timeout: 120_000 });
  const id = page.url().split('/sandboxes/')[1];
  await page.getByRole('heading', { name: id, level: 1 }).waitFor();
  await page.locator('.page-head .badge', { hasText: 'running' }).waitFor({ timeout: 120_000 });

  // The console; it also starts a CPU burner for the charts.
  await page.getByRole('tab', { name: 'Console' }).click();
  const cmd = page.getByLabel('Command', { exact: true });
  await cmd.fill(marker ? 'cat /root/marker; echo hello-from-e2e; echo oops >&2' : 'echo hello-from-e2e; echo oops >&2');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const entry = page.getByTestId('console-entry').last();
  await entry.getByTestId('exit').waitFor({ timeout: 60_000 });
  const stdout = await entry.getByTestId('stdout').innerText();
  assert(stdout.includes('hello-from-e2e'), `the console shows stdout (${stdout})`);
  if (marker) assert(stdout.includes(marker), `the sandbox has the template's file (${stdout})`);
  assert((await entry.getByTestId('stderr').innerText()).trim() === 'oops', 'the console shows stderr');
  assert((await entry.getByTestId('exit').innerText()).startsWith('exit code 0'), 'the console shows the exit code');
  await cmd.fill('false');
  await cmd.press('Enter');
  await page.getByTestId('console-entry').nth(1).getByText(/^exit code 1/).waitFor();
  await shot('sandbox-console', 'sandbox-console');
  await cmd.fill("timeout 40 sh -c 'while :; do :; done' >/dev/null 2>&1 &");
  await cmd.press('Enter');
  await page.getByTestId('console-entry').nth(2).getByText(/^exit code 0/).waitFor();

  await checkMetrics(page, shot);
  await checkListUsage(page, shot, id);
  await useTerminal(page, shot);


  // Files: into /tmp, upload, download, compare.
  await page.getByRole('tab', { name: 'Files' }).click();
  await page.getByRole('button', { name: 'Open folder tmp' }).click();
  await page.getByRole('button', { name: 'Go to the parent folder' }).waitFor();
  const content = `uploaded by the e2e flow at ${new Date().toISOString()}\n`;
  const local = join(tmpdir(), `warren-e2e-upload-${Date.now()}.txt`);
  writeFileSync(local, content);
  try {
    await uploadAndDownload(page, local, content);
  } finally {
    rmSync(local, { force: true });
  }
  await page.getByLabel('New folder name').fill('e2e-dir');
  await page.getByRole('button', { name: 'Create folder' }).click();
  await page.getByRole('button', { name: 'Open folder e2e-dir' }).waitFor();
  await shot('sandbox-files', 'sandbox-files');

  // Kill it.
  await page.getByRole('button', { name: 'Kill', exact: true }).click();
  await page.getByRole('dialog', { name: 'Kill sandbox' }).getByRole('button', { name: 'Kill' }).click();
  await page.locator('.page-head .badge', { hasText: 'killed' }).waitFor({ timeout: 60_000 });
  await shot('sandbox-killed');
  await page.getByRole('link', { name: '← Sandboxes' }).click();
  await page.getByRole('link', { name: id }).waitFor();
  await shot('sandboxes');
  assert((await page.getByTestId('sandbox-row').filter({ hasText: id }).getByTestId('cpu-now').innerText()) === '—', 'a killed sandbox has no CPU figure');
}

export async function full({ cfg, page, shot }) {
  await login(page, cfg.boot);
  const name = `e2e-${Date.now().toString(36)}`;
  await buildTemplate(page, shot, name);
  await useSandbox(page, shot, name, 'built-by-e2e');
}

export async function sandbox({ cfg, page, shot }) {
  await login(page, cfg.boot);
  await useSandbox(page, shot, 'base', '');
}

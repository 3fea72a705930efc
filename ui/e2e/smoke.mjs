// The smoke flow: every page of a `warren dev` node without creating sandboxes
// or builds — login, the sandboxes page (empty state), templates, admin
// templates/builds, nodes, sandboxes, teams, users and API keys, the dark
// theme, logout.
import { assert, goto, login } from './lib.mjs';

export async function smoke({ cfg, page, shot }) {
  const stamp = Date.now().toString(36);

  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in to Warren' }).waitFor();
  await shot('login', 'login');
  await login(page, cfg.boot);

  // Sandboxes: the empty state, and the create dialog (opened, then closed with Escape).
  // A fresh node has none; on a used one, a filter that matches nothing shows the empty state.
  const empty = page.getByText('No sandboxes yet');
  await empty.or(page.locator('table')).first().waitFor();
  if (!(await empty.isVisible())) {
    await shot('sandboxes');
    await page.getByLabel('State').selectOption('lost');
    await page.getByText('No sandbox matches these filters.').waitFor();
  }
  await shot('sandboxes-empty');
  await page.getByRole('button', { name: 'Create sandbox' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create sandbox' });
  await dialog.waitFor();
  await dialog.getByLabel('Template').locator('option', { hasText: 'base' }).waitFor({ state: 'attached' });
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByText('Choose a template', { exact: true }).waitFor();
  await shot('create-sandbox-validation');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  // Templates: the platform base template, marked as such.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Templates' }).click();
  await page.getByRole('heading', { name: 'Templates', level: 1 }).waitFor();
  const base = page.getByTestId('template-row').filter({ hasText: 'base' });
  await base.waitFor();
  assert((await base.locator('.badge').innerText()) === 'platform', 'the base template is marked platform');
  await shot('templates');

  // Admin → Templates (both tabs), Nodes, Sandboxes.
  await goto(page, '/admin/templates', 'Templates');
  await page.getByTestId('admin-template-row').filter({ hasText: 'platform' }).first().waitFor();
  await shot('admin-templates');
  await page.getByRole('tab', { name: 'Builds' }).click();
  await page.getByText(/No builds/).or(page.getByTestId('build-row').first()).waitFor();
  await shot('admin-builds');
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Nodes' }).click();
  const card = page.getByTestId('node-card').first();
  await card.waitFor();
  await card.getByText('leader').waitFor();
  assert((await card.locator(':scope > .capacity meter').count()) === 1, 'a node card has a bar of its running sandboxes');
  const capacity = await card.getByTestId('node-capacity').innerText();
  assert(/^\d+ vCPUs and [\d.]+ (MiB|GiB|TiB) on the host; [\d.]+ vCPUs, [\d.]+ (B|KiB|MiB|GiB|TiB) and [\d.]+ (B|KiB|MiB|GiB|TiB) of disk free to promise$/.test(capacity), `the capacity is shown (${capacity})`);
  // Its load, from GET /v1/admin/nodes/{id}/metrics.
  const load = card.getByTestId('node-load');
  await load.waitFor();
  assert((await load.getByRole('meter').count()) === 3, 'a node card shows three load bars');
  const host = await load.getByTestId('host-load').innerText();
  assert(/^Host load \d+\.\d\d \/ \d+\.\d\d \/ \d+\.\d\d · \d/.test(host), `the host's load averages and free memory are shown (${host})`);
  await shot('admin-nodes', 'admin-nodes');
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Sandboxes' }).click();
  await page.getByRole('heading', { name: 'All sandboxes', level: 1 }).waitFor();
  await page.getByText(/No sandboxes/).or(page.locator('table')).first().waitFor();
  await shot('admin-sandboxes');

  // Admin → Teams: create one.
  await goto(page, '/admin/teams', 'Teams');
  const team = `smoke-${stamp}`;
  await page.getByLabel('New team name').fill(team);
  await page.getByRole('button', { name: 'Create team' }).click();
  await page.getByRole('cell', { name: team, exact: true }).waitFor();
  await shot('admin-teams');

  // Admin → Users: the bootstrap admin, and the create dialog.
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  await page.getByRole('cell', { name: cfg.boot.email, exact: true }).waitFor();
  await shot('admin-users');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('dialog', { name: 'Create user' }).getByLabel('Email').fill(`user-${stamp}@example.test`);
  await page.getByRole('dialog', { name: 'Create user' }).getByLabel('Password').fill(`pw-${stamp}-long-enough`);
  await page.getByRole('dialog', { name: 'Create user' }).getByLabel('Team').selectOption({ label: team });
  await shot('admin-create-user');
  await page.getByRole('dialog', { name: 'Create user' }).getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('cell', { name: `user-${stamp}@example.test`, exact: true }).waitFor();

  // Admin → API keys: create one (secret shown once), then revoke it.
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { name: /API keys/, level: 1 }).waitFor();
  // The first start makes two keys: the admin's `bootstrap` and the team's
  // `bootstrap-e2b` (the E2B form).
  await page.getByTestId('api-key-row').filter({ has: page.getByRole('cell', { name: 'bootstrap', exact: true }) }).waitFor();
  await page.getByTestId('api-key-row').filter({ has: page.getByRole('cell', { name: 'bootstrap-e2b', exact: true }) }).waitFor();
  await page.getByRole('button', { name: 'Create API key' }).click();
  const keyName = `smoke-${stamp}`;
  await page.getByRole('dialog', { name: 'Create API key' }).getByLabel('Name').fill(keyName);
  await page.getByRole('dialog', { name: 'Create API key' }).getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByTestId('api-key-secret').inputValue();
  assert(secret.startsWith('wk_'), `the new key's secret is shown (${secret.slice(0, 3)}…)`);
  await shot('admin-api-key-created');
  await page.getByRole('button', { name: 'Done' }).click();
  const row = page.getByTestId('api-key-row').filter({ hasText: keyName });
  await row.getByRole('button', { name: `Revoke API key ${keyName}` }).click();
  await page.getByRole('dialog', { name: 'Revoke API key' }).getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  await shot('admin-api-keys');

  // Dark theme, then log out.
  await page.getByRole('button', { name: /Colour theme: system/ }).click();
  await page.getByRole('button', { name: /Colour theme: light/ }).click();
  assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'the theme toggle reaches dark');
  await shot('admin-api-keys-dark');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Warren' }).waitFor();
}

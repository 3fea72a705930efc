// The control plane on a live sandbox: getInfo, setTimeout, list with
// filters and pages, pause then connect with the sandbox intact, another
// team's key, metrics.
export default async function (s) {
  const { Sandbox } = s.e2b;
  const opts = s.opts;

  await s.test('getInfo: template, metadata, state, sizes, times', async () => {
    const info = await s.sandbox().getInfo();
    s.eq(info.sandboxId, s.sandbox().sandboxId, 'sandboxId');
    s.assert(/^tpl-/.test(info.templateId), `templateId ${info.templateId}`);
    s.eq(info.name, 'base', 'name (the template alias)');
    s.eq(info.metadata, { suite: s.env.SUITE_RUN, role: 'main', 'odd key&': 'a b&c=d%20é' }, 'metadata');
    s.eq(info.state, 'running', 'state');
    s.assert(info.cpuCount >= 1 && info.memoryMB >= 64, `cpuCount ${info.cpuCount}, memoryMB ${info.memoryMB}`);
    s.assert(info.startedAt <= new Date() && info.endAt > new Date(), `startedAt ${info.startedAt}, endAt ${info.endAt}`);
    s.eq(info.allowInternetAccess, true, 'allowInternetAccess');
    s.eq(info.envdVersion, s.sandbox().envdApi.version, 'envdVersion as create said');
  });

  await s.test('setTimeout: the end moves to now + timeout, shorter or longer', async () => {
    await s.sandbox().setTimeout(60_000);
    let info = await s.sandbox().getInfo();
    let left = info.endAt.getTime() - Date.now();
    s.assert(left > 50_000 && left <= 61_000, `${left} ms left after setTimeout(60 s)`);
    await Sandbox.setTimeout(s.sandbox().sandboxId, 600_000, opts);
    info = await s.sandbox().getInfo();
    left = info.endAt.getTime() - Date.now();
    s.assert(left > 590_000 && left <= 601_000, `${left} ms left after setTimeout(600 s)`);
  });

  await s.test('list: a metadata filter finds the sandbox, a wrong value finds nothing', async () => {
    const items = await Sandbox.list({ ...opts, query: { metadata: { suite: s.env.SUITE_RUN } } }).nextItems();
    s.eq(items.map((i) => i.sandboxId), [s.sandbox().sandboxId], 'listed IDs');
    s.eq(items[0].state, 'running', 'state');
    s.eq(items[0].metadata.role, 'main', 'metadata');
    const odd = await Sandbox.list({ ...opts, query: { metadata: { suite: s.env.SUITE_RUN, 'odd key&': 'a b&c=d%20é' } } }).nextItems();
    s.eq(odd.map((i) => i.sandboxId), [s.sandbox().sandboxId], 'listed by a key and value that need escaping');
    const none = await Sandbox.list({ ...opts, query: { metadata: { suite: 'not-' + s.env.SUITE_RUN } } }).nextItems();
    s.eq(none.length, 0, 'sandboxes with another suite value');
  });

  await s.test('list: pages of one with the next token, state filter', async () => {
    const second = await Sandbox.create('base', { ...opts, metadata: { suite: s.env.SUITE_RUN, role: 'second' }, timeoutMs: 120_000 });
    try {
      const p = Sandbox.list({ ...opts, limit: 1, query: { metadata: { suite: s.env.SUITE_RUN } } });
      const seen = [];
      while (p.hasNext) {
        const page = await p.nextItems();
        s.assert(page.length <= 1, `page of ${page.length}`);
        seen.push(...page.map((i) => i.sandboxId));
      }
      s.eq(seen, [second.sandboxId, s.sandbox().sandboxId], 'pages, newest first');
      const asc = await Sandbox.list({ ...opts, order: 'asc', query: { metadata: { suite: s.env.SUITE_RUN } } }).nextItems();
      s.eq(asc.map((i) => i.sandboxId), [s.sandbox().sandboxId, second.sandboxId], 'oldest first');
      const paused = await Sandbox.list({ ...opts, query: { state: ['paused'], metadata: { suite: s.env.SUITE_RUN } } }).nextItems();
      s.eq(paused.length, 0, 'paused sandboxes before any pause');
    } finally {
      await second.kill();
    }
  });

  await s.test('pause then connect: paused state, then running with the sandbox intact', async () => {
    const id = s.sandbox().sandboxId;
    await s.warren('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'echo kept > /tmp/marker' });
    s.eq(await s.sandbox().pause(), true, 'pause answers true');
    s.eq((await s.sandbox().getInfo()).state, 'paused', 'state after pause');
    s.eq(await Sandbox.pause(id, opts), false, 'a second pause answers false');
    const paused = await Sandbox.list({ ...opts, query: { state: ['paused'], metadata: { suite: s.env.SUITE_RUN } } }).nextItems();
    s.eq(paused.map((i) => i.sandboxId), [id], 'list of paused sandboxes');
    const again = await Sandbox.connect(id, opts);
    s.eq(again.sandboxId, id, 'connected sandboxId');
    s.eq(again.envdAccessToken, s.sandbox().envdAccessToken, 'the access token stays');
    s.eq((await again.getInfo()).state, 'running', 'state after connect');
    const out = await s.warren('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'cat /tmp/marker' });
    s.eq(out.stdout, 'kept\n', 'file written before the pause');
    await Sandbox.connect(id, opts); // connecting to a running sandbox is fine
    s.state.sandbox = again;
  });

  await s.test("another team's key: not found, cannot kill, not listed", async () => {
    const other = { ...opts, apiKey: s.env.E2B_OTHER_API_KEY };
    const id = s.sandbox().sandboxId;
    await s.rejects(Sandbox.getInfo(id, other), s.e2b.SandboxNotFoundError, 'getInfo');
    s.eq(await Sandbox.kill(id, other), false, 'kill answers false');
    await s.rejects(Sandbox.setTimeout(id, 10_000, other), s.e2b.SandboxNotFoundError, 'setTimeout');
    await s.rejects(Sandbox.pause(id, other), s.e2b.SandboxNotFoundError, 'pause');
    await s.rejects(Sandbox.connect(id, other), s.e2b.SandboxNotFoundError, 'connect');
    const listed = await Sandbox.list(other).nextItems();
    s.assert(!listed.some((i) => i.sandboxId === id), 'listed for the other team');
    s.eq((await s.sandbox().getInfo()).state, 'running', 'still running for its team');
  });

  await s.test('a bad API key is refused', async () => {
    const bad = { ...opts, apiKey: 'e2b_' + '0'.repeat(40) };
    await s.rejects(Sandbox.list(bad).nextItems(), s.e2b.AuthenticationError, 'list');
    await s.rejects(Sandbox.create('base', bad), s.e2b.AuthenticationError, 'create');
  });
}

// kill ends the sandbox; after it the control plane no longer knows it.
export default async function (s) {
  const { Sandbox } = s.e2b;
  await s.test('kill: true, then false, then not found and not listed', async () => {
    const id = s.sandbox().sandboxId;
    s.eq(await s.sandbox().kill(), true, 'kill');
    s.eq(await Sandbox.kill(id, s.opts), false, 'second kill');
    await s.rejects(Sandbox.getInfo(id, s.opts), s.e2b.SandboxNotFoundError, 'getInfo after kill');
    await s.rejects(Sandbox.connect(id, s.opts), s.e2b.SandboxNotFoundError, 'connect after kill');
    const items = await Sandbox.list({ ...s.opts, query: { metadata: { suite: s.env.SUITE_RUN } } }).nextItems();
    s.eq(items.length, 0, 'listed after kill');
    const row = await s.warren('GET', `/v1/sandboxes/${id}`);
    s.eq(row.status, 'killed', 'Warren status');
  });
}

// Sandbox.create with a template name, metadata, envs and a timeout; the
// sandbox is s.state.sandbox for the sections after this one.
export default async function (s) {
  const { Sandbox } = s.e2b;
  await s.test('create: from the base template with metadata and envs', async () => {
    const sbx = await Sandbox.create('base', {
      ...s.opts,
      metadata: { suite: s.env.SUITE_RUN, role: 'main', 'odd key&': 'a b&c=d%20é' },
      envs: { SUITE_VAR: 'from-create', OTHER: 'x y' },
      timeoutMs: 300_000,
    });
    s.state.sandbox = sbx;
    s.assert(/^sb-/.test(sbx.sandboxId), `sandboxId ${sbx.sandboxId} is not a Warren sandbox ID`);
    s.assert(typeof sbx.envdAccessToken === 'string' && sbx.envdAccessToken.length >= 32, 'create returns an envdAccessToken');
  });

  if (s.env.SUITE_ENTRY_NODE) {
    await s.test('create: the sandbox runs on another node than the one the SDK talks to', async () => {
      const row = await s.warren('GET', `/v1/sandboxes/${s.sandbox().sandboxId}`);
      s.assert(row.node_id && row.node_id !== s.env.SUITE_ENTRY_NODE, `node_id ${row.node_id}, entry ${s.env.SUITE_ENTRY_NODE}`);
    });
  }

  await s.test('create: envs reach the sandbox (seen through Warren exec with the same e2b_ key)', async () => {
    const out = await s.warren('POST', `/v1/sandboxes/${s.sandbox().sandboxId}/exec`, { cmd: 'echo "$SUITE_VAR|$OTHER"' });
    s.eq(out.stdout, 'from-create|x y\n', 'stdout');
  });

  await s.test('create: an unknown template is refused with a message naming it', async () => {
    const err = await s.rejects(Sandbox.create('no-such-template-here', s.opts), s.e2b.SandboxError, 'create');
    s.assert(/templateID/.test(err.message) && /no-such-template-here/.test(err.message), `message: ${err.message}`);
  });

  await s.test('create: options Warren cannot honour are refused, not ignored', async () => {
    const err = await s.rejects(
      Sandbox.create('base', { ...s.opts, lifecycle: { onTimeout: 'pause' } }),
      s.e2b.SandboxError,
      'create with onTimeout pause',
    );
    s.assert(/autoPause/.test(err.message), `message: ${err.message}`);
    const err2 = await s.rejects(
      Sandbox.create('base', { ...s.opts, network: { allowOut: ['1.1.1.1'] } }),
      s.e2b.SandboxError,
      'create with allowOut',
    );
    s.assert(/network\.allowOut/.test(err2.message), `message: ${err2.message}`);
  });
}

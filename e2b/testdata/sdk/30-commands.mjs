// commands.* through envd: run (stdout/stderr, CommandExitError), envs,
// cwd, live onStdout in order, background + list + kill, stdin, connect.
export default async function (s) {
  const { CommandExitError } = s.e2b;
  const cmds = () => s.sandbox().commands;

  await s.test('commands.run: stdout, stderr, exit code 0', async () => {
    const r = await cmds().run('echo out; echo err >&2');
    s.eq([r.stdout, r.stderr, r.exitCode], ['out\n', 'err\n', 0], 'result');
  });

  await s.test('commands.run: a non-zero exit raises CommandExitError', async () => {
    const err = await s.rejects(cmds().run('echo partial; exit 7'), CommandExitError, 'run exit 7');
    s.eq([err.exitCode, err.stdout], [7, 'partial\n'], 'error fields');
  });

  await s.test('commands.run: envs, cwd, the create envs and the default user', async () => {
    const r = await cmds().run('echo "$A|$SUITE_VAR"; pwd; id -un', { envs: { A: 'b c' }, cwd: '/tmp' });
    s.eq(r.stdout, 'b c|from-create\n/tmp\nuser\n', 'stdout');
    const root = await cmds().run('id -u', { user: 'root' });
    s.eq(root.stdout, '0\n', 'as root');
  });

  await s.test('commands.run: onStdout sees every line live and in order', async () => {
    const seen = [];
    const stamps = [];
    await cmds().run('for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done', {
      onStdout: (d) => {
        seen.push(d);
        stamps.push(Date.now());
      },
    });
    s.eq(seen.join(''), 'line1\nline2\nline3\nline4\nline5\n', 'onStdout data');
    s.assert(stamps.length >= 3 && stamps[stamps.length - 1] - stamps[0] >= 400, `chunks arrived together: ${stamps.length} at ${stamps}`);
  });

  await s.test('commands: background, list, kill', async () => {
    const h = await cmds().run('sleep 300', { background: true });
    s.assert(h.pid > 0, `pid ${h.pid}`);
    const listed = await cmds().list();
    const p = listed.find((x) => x.pid === h.pid);
    s.assert(p && p.args.includes('sleep 300'), `list: ${JSON.stringify(listed)}`);
    s.eq(await cmds().kill(h.pid), true, 'kill');
    const err = await s.rejects(h.wait(), CommandExitError, 'wait after kill');
    s.assert(err.exitCode !== 0, `exit code ${err.exitCode}`);
    s.eq(await cmds().kill(h.pid), false, 'second kill');
    s.assert(!(await cmds().list()).some((x) => x.pid === h.pid), 'listed after kill');
  });

  await s.test('commands: stdin with sendStdin and closeStdin', async () => {
    const h = await cmds().run('while read l; do echo got:$l; done; echo eof', { background: true, stdin: true });
    await cmds().sendStdin(h.pid, 'one\ntwo\n');
    await cmds().closeStdin(h.pid);
    const r = await h.wait();
    s.eq(r.stdout, 'got:one\ngot:two\neof\n', 'stdout');
  });

  await s.test('commands.connect: attach to a running command', async () => {
    const h = await cmds().run('sleep 0.5; echo late', { background: true });
    await h.disconnect();
    const again = await cmds().connect(h.pid);
    const r = await again.wait();
    s.eq(r.stdout, 'late\n', 'stdout after connect');
  });

  await s.test('pty: create, input, resize, exit', async () => {
    const dec = new TextDecoder();
    let out = '';
    const pty = s.sandbox().pty;
    const h = await pty.create({ cols: 80, rows: 24, onData: (d) => (out += dec.decode(d)) });
    const until = async (re) => {
      for (const deadline = Date.now() + 10_000; !re.test(out) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      s.assert(re.test(out), `pty output ${JSON.stringify(out)} lacks ${re}`);
    };
    await pty.sendInput(h.pid, new TextEncoder().encode('stty size\n'));
    await until(/24 80/);
    await pty.resize(h.pid, { cols: 132, rows: 50 });
    await pty.sendInput(h.pid, new TextEncoder().encode('stty size; exit 0\n'));
    await until(/50 132/);
    const r = await h.wait();
    s.eq(r.exitCode, 0, 'exit code');
  });
}

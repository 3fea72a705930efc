// files.* through envd: write/read text and a 5 MiB binary, list, exists,
// makeDir, rename, getInfo, remove, watchDir.
import { randomBytes, createHash } from 'node:crypto';

export default async function (s) {
  const files = () => s.sandbox().files;
  const sha = (b) => createHash('sha256').update(b).digest('hex');

  await s.test('files: write and read text', async () => {
    const info = await files().write('/tmp/suite/hello.txt', 'héllo\n');
    s.eq([info.path, info.name], ['/tmp/suite/hello.txt', 'hello.txt'], 'write answer');
    s.eq(await files().read('/tmp/suite/hello.txt'), 'héllo\n', 'read');
  });

  await s.test('files: write and read a 5 MiB binary', async () => {
    const data = randomBytes(5 << 20);
    await files().write('/tmp/suite/big.bin', new Uint8Array(data).buffer);
    const back = await files().read('/tmp/suite/big.bin', { format: 'bytes' });
    s.eq([back.length, sha(back)], [data.length, sha(data)], 'size and sha256');
  });

  await s.test('files: list, exists, getInfo', async () => {
    const names = (await files().list('/tmp/suite')).map((e) => `${e.name}:${e.type}`).sort();
    s.eq(names, ['big.bin:file', 'hello.txt:file'], 'list');
    s.eq(await files().exists('/tmp/suite/hello.txt'), true, 'exists');
    s.eq(await files().exists('/tmp/suite/nope'), false, 'exists (missing)');
    const info = await files().getInfo('/tmp/suite/big.bin');
    s.eq([info.type, info.size, info.owner, info.permissions], ['file', 5 << 20, 'user', '-rw-r--r--'], 'getInfo');
  });

  await s.test('files: makeDir, rename, remove', async () => {
    s.eq(await files().makeDir('/tmp/suite/d/e'), true, 'makeDir');
    s.eq(await files().makeDir('/tmp/suite/d/e'), false, 'makeDir again');
    const moved = await files().rename('/tmp/suite/hello.txt', '/tmp/suite/d/e/moved.txt');
    s.eq(moved.path, '/tmp/suite/d/e/moved.txt', 'rename answer');
    s.eq(await files().read('/tmp/suite/d/e/moved.txt'), 'héllo\n', 'read after rename');
    await files().remove('/tmp/suite/d');
    s.eq(await files().exists('/tmp/suite/d'), false, 'exists after remove');
  });

  await s.test('files.watchDir: an event for a new file', async () => {
    await files().makeDir('/tmp/suite/w');
    const events = [];
    const w = await files().watchDir('/tmp/suite/w', (e) => events.push(e));
    await files().write('/tmp/suite/w/new.txt', 'x');
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.name === 'new.txt' && e.type === 'create') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await w.stop();
    s.assert(events.some((e) => e.name === 'new.txt' && e.type === 'create'), `events: ${JSON.stringify(events)}`);
  });
}

// The terminal part of the sandbox flow: xterm.js on the PTY WebSocket.
import { assert, until } from './lib.mjs';

/** screen answers the terminal's visible text, one line per row (xterm's DOM renderer). */
async function screen(page) {
  const text = await page.getByTestId('terminal').locator('.xterm-rows').innerText();
  return text.replace(/\u00a0/g, " ");
}

async function waitForLine(page, re, what, timeoutMs = 15_000) {
  let text = '';
  await until(async () => {
    text = await screen(page);
    return text.split('\n').some((l) => re.test(l.trimEnd()));
  }, `the terminal shows ${what}`, timeoutMs).catch((e) => {
    throw new Error(`${e.message}; the terminal shows:\n${text}`);
  });
}

/** run types a line into the terminal and presses Enter. */
async function run(page, line) {
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** sttySize runs `stty size` behind a unique marker and answers "rows cols". */
async function sttySize(page, tag) {
  await run(page, `echo ${tag}=$(stty size)`);
  let size = '';
  await until(async () => {
    const m = new RegExp(`^${tag}=(\\d+ \\d+)$`, 'm').exec((await screen(page)).split('\n').map((l) => l.trimEnd()).join('\n'));
    size = m ? m[1] : '';
    return !!m;
  }, `stty size answers (${tag})`);
  return size;
}

/** useTerminal opens the Terminal tab and drives the login shell. */
export async function useTerminal(page, shot) {
  await page.getByRole('tab', { name: 'Terminal' }).click();
  await page.getByTestId('terminal-status').getByText('Connected').waitFor({ timeout: 30_000 });
  await page.getByTestId('terminal').click();

  // A command and its output on a line of its own.
  await run(page, 'echo hi');
  await waitForLine(page, /^hi$/, '"hi" on its own line');

  // An interactive program reading the terminal: a nested sh that reads a line.
  await run(page, 'sh');
  await run(page, 'read x; echo "got-$x-from-$0"');
  await run(page, 'typed-line');
  await waitForLine(page, /^got-typed-line-from-sh$/, 'what the nested sh read');
  await run(page, 'exit');

  // Ctrl-C interrupts a foreground sleep; the shell answers at once.
  await run(page, 'sleep 100');
  await page.waitForTimeout(500);
  await page.keyboard.press('Control+C');
  await run(page, 'echo after-$((6*7))');
  await waitForLine(page, /^after-42$/, 'the shell after Ctrl-C', 5_000);

  // The PTY follows the window: a smaller viewport refits the terminal and stty size changes.
  const before = await sttySize(page, 'size1');
  const vp = page.viewportSize();
  await page.setViewportSize({ width: 900, height: 640 });
  let after = before;
  for (let i = 2; after === before && i < 20; i++) {
    await page.waitForTimeout(300);
    after = await sttySize(page, `size${i}`);
  }
  assert(after !== before, `stty size changed with the window (${before} → ${after})`);
  const [r1, c1] = before.split(' ').map(Number);
  const [r2, c2] = after.split(' ').map(Number);
  assert(r2 < r1 && c2 < c1, `the smaller window has fewer rows and columns (${before} → ${after})`);
  await page.setViewportSize(vp);
  await run(page, 'clear; echo hi; ls /; stty size');
  await waitForLine(page, /^\d+ \d+$/, 'the size after the window grew back');
  await shot('sandbox-terminal', 'sandbox-terminal');
}

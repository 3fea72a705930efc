// Runs an end-to-end flow against a live node:
//   WARREN_URL=http://127.0.0.1:8080 WARREN_BOOTSTRAP=<data-dir>/bootstrap.json node e2e/run.mjs smoke|sandbox|full
// Screenshots go to artifacts/ui/<flow>/ at the repository root. Any console
// error or warning, page error, failed request or HTTP error fails the flow.
import { open } from './lib.mjs';
import { smoke } from './smoke.mjs';
import { full, sandbox } from './full.mjs';

const flows = { smoke, sandbox, full };
const names = process.argv.slice(2);
if (names.length === 0 || names.some((n) => !flows[n])) {
  console.error(`usage: node e2e/run.mjs ${Object.keys(flows).join('|')} ...`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
for (const name of names) {
  const started = Date.now();
  let ctx;
  try {
    ctx = await open(name);
    await flows[name](ctx);
    if (ctx.problems.length > 0) throw new Error(`the browser reported problems:\n  ${ctx.problems.join('\n  ')}`);
    passed++;
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${ctx.shots})`);
  } catch (e) {
    failed++;
    if (ctx) {
      await ctx.shot('failure').catch(() => {});
      if (ctx.problems.length > 0 && !String(e.message).includes('the browser reported problems')) {
        console.error(`     browser problems before the failure:\n       ${ctx.problems.join('\n       ')}`);
      }
    }
    console.error(`FAIL ${name}: ${e.stack ?? e}`);
  } finally {
    await ctx?.close();
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

// The metrics parts of the sandbox flow: the charts of the sandbox page and
// the live CPU/memory columns of the sandboxes list.
import { assert, until } from './lib.mjs';

/**
 * strokePixels counts the pixels of a chart's canvas drawn in one of its
 * series' colours (src/components/Chart.tsx), read from a copy of the canvas
 * (reading the chart's own canvas again and again makes Chromium warn).
 */
function strokePixels(chart) {
  return chart.locator('canvas').evaluate((c) => {
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(c, 0, 0);
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    const colours = [[0x2f, 0x7f, 0xd8], [0xd8, 0x77, 0x2f]];
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && colours.some(([r, g, b]) => Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24)) n++;
    }
    return n;
  });
}

/** checkMetrics opens the Metrics tab and waits for every chart to draw a line through several samples. */
export async function checkMetrics(page, shot) {
  await page.getByRole('tab', { name: 'Metrics' }).click();
  const charts = page.getByTestId('chart');
  await charts.nth(3).waitFor();
  assert((await charts.count()) === 4, 'the sandbox page has four charts (CPU, memory, disk, network)');
  const cpu = charts.filter({ hasText: 'CPU' });
  await until(async () => Number(await cpu.getAttribute('data-points')) >= 5, 'the CPU chart has five samples', 60_000);
  for (const title of ['CPU', 'Memory', 'Disk', 'Network']) {
    const chart = charts.filter({ hasText: title });
    const points = Number(await chart.getAttribute('data-points'));
    assert(points >= 5, `the ${title} chart has at least 5 samples (${points})`);
    await until(async () => (await strokePixels(chart)) > 20, `the ${title} chart draws its line`);
  }
  const now = await page.getByTestId('metrics-current').innerText();
  assert(/CPU\s+\d+(\.\d)?% of [\d.]+ vCPU/.test(now), `the newest sample shows CPU (${now})`);
  assert(/Memory\s+[\d.]+ (B|KiB|MiB|GiB) \/ [\d.]+ (MiB|GiB)/.test(now), `the newest sample shows memory used of its limit (${now})`);
  // The burner started from the console shows in the CPU figure.
  await until(async () => {
    const m = /CPU\s+(\d+(?:\.\d)?)%/.exec(await page.getByTestId('metrics-current').innerText());
    return m && Number(m[1]) >= 30;
  }, 'the CPU burner shows as at least 30% CPU', 60_000);
  await shot('sandbox-metrics', 'sandbox-metrics');
}

/** checkListUsage goes to the sandboxes list, reads the sandbox's live CPU and memory cells, and comes back. */
export async function checkListUsage(page, shot, id) {
  await page.getByRole('link', { name: '← Sandboxes' }).click();
  const row = page.getByTestId('sandbox-row').filter({ hasText: id });
  await row.waitFor();
  await until(async () => /^\d+(\.\d)?%$/.test(await row.getByTestId('cpu-now').innerText()), 'the list shows the sandbox CPU');
  await until(async () => /^[\d.]+ (B|KiB|MiB|GiB) \/ [\d.]+ (MiB|GiB)$/.test(await row.getByTestId('mem-now').innerText()), 'the list shows the sandbox memory');
  await shot('sandboxes-usage', 'sandboxes');
  await row.getByRole('link', { name: id }).click();
  await page.getByRole('heading', { name: id, level: 1 }).waitFor();
}

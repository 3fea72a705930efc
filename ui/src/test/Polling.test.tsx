import { act, screen } from '@testing-library/react';
import { renderPage } from './render';
import { BuildsTab, pollMs } from '../pages/admin/Builds';
import { build } from './builds';
import { mockFetch } from './fetchMock';

let hidden = false;

function setHidden(h: boolean) {
  hidden = h;
  document.dispatchEvent(new Event('visibilitychange', { bubbles: true })); // as browsers do: it reaches window
}

// Answers reach the page a tick later: TanStack Query batches its notifications with setTimeout(0).
const advance = (ms: number) => act(async () => {
  await vi.advanceTimersByTimeAsync(ms);
  await vi.advanceTimersByTimeAsync(1);
});

describe('builds polling', () => {
  beforeEach(() => {
    hidden = false;
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    delete (document as { hidden?: boolean }).hidden;
    delete (document as { visibilityState?: string }).visibilityState;
  });

  it('polls every 3 s while a build is active, pauses while hidden, resumes when shown, stops when done', async () => {
    const answers = [
      build({ status: 'running', current_step: 0, total_steps: 3 }),
      build({ status: 'running', current_step: 1, total_steps: 3 }),
      build({ status: 'running', current_step: 2, total_steps: 3 }),
      build({ status: 'succeeded', current_step: 3, total_steps: 3 }),
    ];
    let n = 0;
    const { calls } = mockFetch({ 'GET /v1/admin/builds': () => ({ json: { items: [answers[Math.min(n++, answers.length - 1)]] } }) });
    const finished = vi.fn();
    renderPage(<BuildsTab onBuildFinished={finished} />);
    await advance(0);
    expect(calls).toHaveLength(1);
    const bar = () => screen.getByRole('progressbar', { name: 'Progress of build py' }).getAttribute('value');
    expect(bar()).toBe('0');

    await advance(pollMs - 10);
    expect(calls).toHaveLength(1);
    await advance(10);
    expect(calls).toHaveLength(2);
    expect(bar()).toBe('1');

    act(() => setHidden(true));
    await advance(pollMs * 5);
    expect(calls).toHaveLength(2); // nothing while hidden

    act(() => setHidden(false));
    await advance(0);
    expect(calls).toHaveLength(3); // at once when shown again
    expect(bar()).toBe('2');
    expect(finished).not.toHaveBeenCalled();

    await advance(pollMs);
    expect(calls).toHaveLength(4);
    expect(bar()).toBe('3');
    expect(screen.getByTestId('build-row').querySelector('.badge')?.textContent).toBe('succeeded');
    expect(finished).toHaveBeenCalledTimes(1);
    expect(finished.mock.calls[0][0].status).toBe('succeeded');

    await advance(pollMs * 5);
    expect(calls).toHaveLength(4); // nothing active: no more polling
  });

  it('does not poll when no build is active', async () => {
    const { calls } = mockFetch({ 'GET /v1/admin/builds': { json: { items: [build({ status: 'failed' })] } } });
    renderPage(<BuildsTab />);
    await advance(0);
    await advance(pollMs * 4);
    expect(calls).toHaveLength(1);
  });
});

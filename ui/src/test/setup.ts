// Any console.error or console.warn in a component test fails it: React
// reports key, act and prop problems there.
import { afterEach, beforeEach, vi } from 'vitest';

let logged: string[] = [];
const record = (...args: unknown[]) => {
  logged.push(args.map(String).join(' '));
};

beforeEach(() => {
  logged = [];
  vi.spyOn(console, 'error').mockImplementation(record);
  vi.spyOn(console, 'warn').mockImplementation(record);
});

afterEach(() => {
  if (logged.length > 0) throw new Error(`console output during the test:\n${logged.join('\n')}`);
});

import { act, fireEvent, screen } from '@testing-library/react';
import { TerminalView } from '../pages/Terminal';
import { FakeSocket, installFakeSocket } from './fakeSocket';
import { renderPage } from './render';

// xterm.js needs a real layout; this stand-in records writes and lets the
// test type (onData) and resize (what FitAddon.fit does) like the real one.
const terms = vi.hoisted(() => [] as FakeTerm[]);
type Listener<T> = (v: T) => void;
interface FakeTerm {
  cols: number;
  rows: number;
  written: string[];
  disposed: boolean;
  type: (s: string) => void;
  resize: (cols: number, rows: number) => void;
}
vi.mock('@xterm/xterm', () => ({
  Terminal: class implements FakeTerm {
    cols = 80;
    rows = 24;
    written: string[] = [];
    disposed = false;
    private data: Listener<string>[] = [];
    private sizes: Listener<{ cols: number; rows: number }>[] = [];
    constructor() {
      terms.push(this);
    }
    loadAddon() {}
    open() {}
    focus() {}
    write(d: string | Uint8Array) {
      this.written.push(typeof d === 'string' ? d : new TextDecoder().decode(d));
    }
    onData(f: Listener<string>) {
      this.data.push(f);
      return { dispose: () => (this.data = this.data.filter((g) => g !== f)) };
    }
    onBinary() {
      return { dispose: () => {} };
    }
    onResize(f: Listener<{ cols: number; rows: number }>) {
      this.sizes.push(f);
      return { dispose: () => (this.sizes = this.sizes.filter((g) => g !== f)) };
    }
    dispose() {
      this.disposed = true;
    }
    type(s: string) {
      this.data.forEach((f) => f(s));
    }
    resize(cols: number, rows: number) {
      this.cols = cols;
      this.rows = rows;
      this.sizes.forEach((f) => f({ cols, rows }));
    }
  },
}));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit() {} } }));

describe('TerminalView', () => {
  beforeEach(() => {
    terms.length = 0;
    installFakeSocket();
  });

  it('connects at the terminal size, relays keys and output, resizes, and reports the exit', () => {
    const { unmount } = renderPage(<TerminalView sandboxId="sb-1" />);
    const ws = FakeSocket.all[0];
    expect(ws.url).toBe(`ws://${window.location.host}/v1/sandboxes/sb-1/pty?cols=80&rows=24`);
    expect(screen.getByTestId('terminal-status').textContent).toBe('Connecting…');
    act(() => ws.serverOpen());
    expect(screen.getByTestId('terminal-status').textContent).toBe('Connected: the login shell');

    const term = terms[0];
    term.type('echo hi\r');
    act(() => ws.serverBinary('echo hi\r\nhi\r\n$ '));
    expect(ws.binaries()).toEqual(['echo hi\r']);
    expect(term.written.join('')).toBe('echo hi\r\nhi\r\n$ ');
    term.resize(100, 30);
    expect(ws.texts()).toEqual([{ type: 'resize', cols: 100, rows: 30 }]);

    act(() => {
      ws.serverText({ type: 'exit', code: 3 });
      ws.serverClose(1000, '');
    });
    expect(screen.getByTestId('terminal-status').textContent).toBe('The shell exited with code 3');
    expect(term.written.at(-1)).toContain('[the shell exited with code 3]');

    // A new session is a new socket and a new terminal; the old ones are gone.
    fireEvent.click(screen.getByRole('button', { name: 'New session' }));
    expect(FakeSocket.all).toHaveLength(2);
    expect(term.disposed).toBe(true);
    act(() => FakeSocket.all[1].serverOpen());
    unmount();
    expect(FakeSocket.all[1].closedWith).toBe(1000);
    expect(terms[1].disposed).toBe(true);
  });

  it('shows the server error as sent', () => {
    renderPage(<TerminalView sandboxId="sb-1" />);
    const ws = FakeSocket.all[0];
    act(() => {
      ws.serverOpen();
      ws.serverText({ type: 'error', message: 'sandbox sb-1 is not running' });
      ws.serverClose(1008, '');
    });
    expect(screen.getByRole('alert').textContent).toBe('sandbox sb-1 is not running');
    expect(screen.getByTestId('terminal-status').textContent).toBe('The terminal failed');
    expect(screen.getByRole('button', { name: 'New session' })).toBeTruthy();
  });
});

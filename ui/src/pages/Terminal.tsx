import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { PtySession, ptyURL } from '../pty';
import { currentTeam } from '../api';
import { ErrorBox } from '../components/States';

type State = { kind: 'connecting' } | { kind: 'open' } | { kind: 'exited'; code: number } | { kind: 'failed'; message: string };

function fitIfShown(el: HTMLElement, fit: FitAddon) {
  if (el.offsetWidth > 0 && el.offsetHeight > 0) fit.fit();
}

/**
 * TerminalView is an xterm.js terminal on a PTY in the sandbox (its login
 * shell). The terminal fits its box; every new size is sent to the PTY.
 */
export function TerminalView({ sandboxId }: { sandboxId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [session, setSession] = useState(0);

  useEffect(() => {
    const el = box.current!;
    const term = new Terminal({ cursorBlink: true, fontSize: 14, fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fitIfShown(el, fit);
    setState({ kind: 'connecting' });
    const pty = new PtySession(ptyURL(window.location, sandboxId, term.cols, term.rows, currentTeam()), {
      open: () => {
        setState({ kind: 'open' });
        term.focus();
      },
      output: (b) => term.write(b),
      exit: (code) => {
        term.write(`\r\n[the shell exited with code ${code}]\r\n`);
        setState({ kind: 'exited', code });
      },
      error: (message) => setState({ kind: 'failed', message }),
      closed: () => setState((s) => (s.kind === 'open' || s.kind === 'connecting' ? { kind: 'exited', code: -1 } : s)),
    });
    const subs = [
      term.onData((d) => pty.input(d)),
      term.onBinary((d) => pty.input(Uint8Array.from(d, (c) => c.charCodeAt(0)))),
      term.onResize(({ cols, rows }) => pty.resize(cols, rows)),
    ];
    const ro = new ResizeObserver(() => fitIfShown(el, fit));
    ro.observe(el);
    return () => {
      ro.disconnect();
      subs.forEach((s) => s.dispose());
      pty.close();
      term.dispose();
    };
  }, [sandboxId, session]);

  const ended = state.kind === 'exited' || state.kind === 'failed';
  return (
    <div className="terminal-panel">
      <div className="toolbar">
        <span className="small muted" role="status" data-testid="terminal-status">
          {state.kind === 'connecting' && 'Connecting…'}
          {state.kind === 'open' && 'Connected: the login shell'}
          {state.kind === 'exited' && (state.code >= 0 ? `The shell exited with code ${state.code}` : 'The connection closed')}
          {state.kind === 'failed' && 'The terminal failed'}
        </span>
        {ended && <button type="button" onClick={() => setSession((n) => n + 1)}>New session</button>}
      </div>
      {state.kind === 'failed' && <ErrorBox message={state.message} />}
      <div ref={box} className="terminal" data-testid="terminal" aria-label="Terminal" />
    </div>
  );
}

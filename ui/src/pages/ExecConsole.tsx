import { useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { errorMessage, post } from '../api';
import type { ExecResult } from '../types';
import { duration } from '../format';

interface Entry {
  n: number;
  cmd: string;
  result?: ExecResult;
  error?: string;
}

/** ExecConsole runs one shell command at a time in the sandbox and keeps a history. */
export function ExecConsole({ sandboxId }: { sandboxId: string }) {
  const [cmd, setCmd] = useState('');
  const [entries, setEntries] = useState<Entry[]>([]);
  const [running, setRunning] = useState(false);
  const [histPos, setHistPos] = useState(-1);
  const seq = useRef(0);
  const out = useRef<HTMLDivElement>(null);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    const c = cmd.trim();
    if (!c || running) return;
    const n = ++seq.current;
    setEntries((xs) => [...xs, { n, cmd: c }]);
    setCmd('');
    setHistPos(-1);
    setRunning(true);
    let patch: Partial<Entry>;
    try {
      patch = { result: await post<ExecResult>(`/v1/sandboxes/${encodeURIComponent(sandboxId)}/exec`, { cmd: c }) };
    } catch (err) {
      patch = { error: errorMessage(err) };
    }
    setEntries((xs) => xs.map((x) => (x.n === n ? { ...x, ...patch } : x)));
    setRunning(false);
    requestAnimationFrame(() => out.current?.scrollTo?.({ top: out.current.scrollHeight }));
  };

  // Up and Down walk the history of commands, as in a shell.
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    const cmds = entries.map((x) => x.cmd);
    if (cmds.length === 0) return;
    e.preventDefault();
    let p = histPos;
    if (e.key === 'ArrowUp') p = p < 0 ? cmds.length - 1 : Math.max(0, p - 1);
    else p = p < 0 ? -1 : p + 1 >= cmds.length ? -1 : p + 1;
    setHistPos(p);
    setCmd(p < 0 ? '' : cmds[p]);
  };

  return (
    <section className="panel" aria-labelledby="console-title">
      <div className="panel-head">
        <h2 id="console-title">Console</h2>
        {entries.length > 0 && (
          <button type="button" className="ghost" onClick={() => setEntries([])} aria-label="Clear console history">Clear</button>
        )}
      </div>
      <div className="console" ref={out} role="log" aria-label="Command output" aria-live="polite">
        {entries.length === 0 && <p className="muted">Run a command: it goes through /bin/sh -c in the sandbox.</p>}
        {entries.map((x) => (
          <div key={x.n} className="console-entry" data-testid="console-entry">
            <div className="console-cmd"><span aria-hidden="true">$ </span>{x.cmd}</div>
            {!x.result && !x.error && <div className="muted">running…</div>}
            {x.error && <div className="stderr" role="alert">{x.error}</div>}
            {x.result && (
              <>
                {x.result.stdout && <pre className="stdout" data-testid="stdout">{x.result.stdout}</pre>}
                {x.result.stderr && <pre className="stderr" data-testid="stderr">{x.result.stderr}</pre>}
                <div className={`small ${x.result.exit_code === 0 ? 'muted' : 'error-text'}`} data-testid="exit">
                  exit code {x.result.exit_code} · {duration(x.result.duration_ms)}
                  {x.result.timed_out && ' · timed out'}
                </div>
              </>
            )}
          </div>
        ))}
      </div>
      <form className="console-input" onSubmit={run}>
        <label htmlFor="console-cmd" className="sr-only">Command</label>
        <input
          id="console-cmd"
          className="mono"
          value={cmd}
          onChange={(e) => setCmd(e.target.value)}
          onKeyDown={onKey}
          placeholder="ls -la /"
          autoComplete="off"
          spellCheck={false}
        />
        <button type="submit" className="primary" disabled={running || !cmd.trim()}>{running ? 'Running…' : 'Run'}</button>
      </form>
    </section>
  );
}

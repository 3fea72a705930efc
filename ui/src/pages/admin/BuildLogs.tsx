import { useGet } from '../../query';
import { buildActive, type Build } from '../../types';
import { Show } from '../../components/States';
import { duration } from '../../format';

/** BuildLogs shows one build's per-step logs, polled every pollMs while the build is active. */
export function BuildLogs({ id, pollMs }: { id: string; pollMs: number }) {
  const build = useGet<Build>(`/v1/admin/builds/${encodeURIComponent(id)}`, {
    refetchInterval: (q) => (q.state.data && buildActive(q.state.data) ? pollMs : false),
  });
  return (
    <Show load={build} what="logs" isEmpty={(b) => (b.logs ?? []).length === 0} empty={<p>No step has run yet.</p>}>
      {(b) => (
        <ol className="steps" aria-label={`Steps of build ${b.name}`}>
          {(b.logs ?? []).map((l) => (
            <li key={l.step} className="step" data-testid="build-step">
              <div className="step-head">
                <span className="small muted">Step {l.step}</span>
                <code className="step-cmd">{l.cmd}</code>
                <span className={l.exit_code === 0 ? 'small' : 'small error-text'} data-testid="step-exit">exit code {l.exit_code}</span>
                <span className="small muted">{duration(l.elapsed_ms)}</span>
              </div>
              {l.stdout && (
                <pre className="stdout" aria-label={`stdout of step ${l.step}`}>{l.stdout}{l.stdout_truncated && '\n… (truncated)'}</pre>
              )}
              {l.stderr && (
                <pre className="stderr" aria-label={`stderr of step ${l.step}`}>{l.stderr}{l.stderr_truncated && '\n… (truncated)'}</pre>
              )}
            </li>
          ))}
        </ol>
      )}
    </Show>
  );
}

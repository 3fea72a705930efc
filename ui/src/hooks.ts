import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: string;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (d: T) => void;
}

/**
 * useLoad runs load when deps change and on reload(); a reload keeps the data
 * shown while it runs. Answers from stale calls are dropped.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const ctrl = useRef<AbortController | null>(null);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const n = ++seq.current;
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setLoading(true);
    try {
      const d = await run(c.signal);
      if (n === seq.current) {
        setData(d);
        setError('');
      }
    } catch (e) {
      if (n === seq.current && !c.signal.aborted) setError(errorMessage(e));
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
    return () => {
      seq.current++;
      ctrl.current?.abort();
    };
  }, [reload]);
  return { data, error, loading, reload, setData };
}

/**
 * usePolling calls tick every intervalMs while active and the page is visible.
 * While document.hidden it stops; when the page shows again it ticks at once
 * and resumes. The next tick is scheduled only after the previous one ended.
 */
export function usePolling(tick: () => Promise<unknown> | void, intervalMs: number, active: boolean) {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (!active) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const schedule = () => {
      clearTimeout(timer);
      if (stopped || document.hidden) return;
      timer = setTimeout(run, intervalMs);
    };
    const run = async () => {
      if (stopped || document.hidden) return;
      try {
        await tickRef.current();
      } finally {
        schedule();
      }
    };
    const onVisibility = () => {
      clearTimeout(timer);
      if (!document.hidden) void run();
    };
    document.addEventListener('visibilitychange', onVisibility);
    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [intervalMs, active]);
}

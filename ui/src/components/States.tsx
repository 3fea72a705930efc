import type { ReactNode } from 'react';
import type { Loaded } from '../hooks';

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function ErrorBox({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div className="error-box" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/**
 * Show renders the loading, error and empty states of a load, or children with
 * its data. A reload keeps the data shown.
 */
export function Show<T>({ load, what, empty, isEmpty, children }: {
  load: Loaded<T>;
  what: string;
  empty: ReactNode;
  isEmpty: (d: T) => boolean;
  children: (d: T) => ReactNode;
}) {
  if (load.data === undefined) {
    if (load.error) return <ErrorBox message={load.error} onRetry={() => void load.reload()} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {load.error && <ErrorBox message={load.error} onRetry={() => void load.reload()} />}
      {isEmpty(load.data) ? <Empty>{empty}</Empty> : children(load.data)}
    </>
  );
}

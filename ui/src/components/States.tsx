import type { ReactNode } from 'react';
import { errorMessage } from '../api';

/** Loaded is the part of a query result that Show reads. */
export interface Loaded<T> {
  data: T | undefined;
  error: Error | null;
  refetch: () => unknown;
}

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
 * its data. A refetch keeps the data shown.
 */
export function Show<T>({ load, what, empty, isEmpty, children }: {
  load: Loaded<T>;
  what: string;
  empty: ReactNode;
  isEmpty: (d: T) => boolean;
  children: (d: T) => ReactNode;
}) {
  const retry = () => void load.refetch();
  if (load.data === undefined) {
    if (load.error) return <ErrorBox message={errorMessage(load.error)} onRetry={retry} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {load.error && <ErrorBox message={errorMessage(load.error)} onRetry={retry} />}
      {isEmpty(load.data) ? <Empty>{empty}</Empty> : children(load.data)}
    </>
  );
}

// Data fetching through TanStack Query: every GET is a query keyed by its
// path, so pages that show the same resource share one cache entry. Polling is
// refetchInterval, which pauses while the page is hidden and refetches at once
// when it shows again (refetchOnWindowFocus on visibilitychange).
import { QueryClient, useQuery, type UseQueryOptions } from '@tanstack/react-query';
import { get } from './api';

/** newQueryClient answers a client with the UI's defaults: errors are shown, not retried. */
export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, staleTime: 0, refetchOnWindowFocus: true, refetchIntervalInBackground: false },
    },
  });
}

type GetOptions<T, S> = Omit<UseQueryOptions<T, Error, S, string[]>, 'queryKey' | 'queryFn'>;

/** useGet fetches path with GET (the query key is the path). */
export function useGet<T, S = T>(path: string, opts: GetOptions<T, S> = {}) {
  return useQuery<T, Error, S, string[]>({
    queryKey: [path],
    queryFn: ({ signal }) => get<T>(path, signal),
    ...opts,
  });
}

import { useSearchParams } from 'react-router';

/**
 * useQueryParams answers the page's query parameters and a function that sets
 * some of them (an empty value removes one), replacing the history entry.
 */
export function useQueryParams(): [URLSearchParams, (changes: Record<string, string>) => void] {
  const [params, setParams] = useSearchParams();
  const update = (changes: Record<string, string>) =>
    setParams((prev) => {
      const q = new URLSearchParams(prev);
      for (const [k, v] of Object.entries(changes)) {
        if (v) q.set(k, v);
        else q.delete(k);
      }
      return q;
    }, { replace: true });
  return [params, update];
}

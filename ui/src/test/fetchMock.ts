import { vi } from 'vitest';

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = { status?: number; json?: unknown; body?: BodyInit } | ((c: Call) => { status?: number; json?: unknown; body?: BodyInit });

/**
 * mockFetch replaces fetch with a table of "METHOD /path" → reply (the query is
 * part of the key only when the key has one). It records every call and fails
 * the test on a request the table does not know.
 */
export function mockFetch(routes: Record<string, Reply>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = (init.headers ?? {}) as Record<string, string>;
    let body: unknown = init.body;
    if (typeof body === 'string' && headers['Content-Type'] === 'application/json') body = JSON.parse(body);
    const call = { method, url, headers, body };
    calls.push(call);
    const path = url.split('?')[0];
    const reply = routes[`${method} ${url}`] ?? routes[`${method} ${path}`];
    if (!reply) throw new Error(`unexpected request ${method} ${url}`);
    const r = typeof reply === 'function' ? reply(call) : reply;
    const status = r.status ?? 200;
    if (r.json !== undefined) {
      return new Response(JSON.stringify(r.json), { status, headers: { 'Content-Type': 'application/json' } });
    }
    return new Response(status === 204 ? null : (r.body ?? null), { status });
  });
  vi.stubGlobal('fetch', fn);
  return { calls, fn };
}

export function apiError(status: number, code: string, message: string, field?: string) {
  return { status, json: { error: { code, message, ...(field ? { field } : {}) }, request_id: 'req-test' } };
}

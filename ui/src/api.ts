// The REST client: same origin, the session cookie, X-CSRF-Token on writes, and
// X-Warren-Team for users in several teams. Errors carry the API's message as sent.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field?: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken = '';
let teamId = '';
let onUnauthenticated: (() => void) | null = null;

export function setCsrfToken(t: string) {
  csrfToken = t;
}
export function setTeam(id: string) {
  teamId = id;
}
/** currentTeam is the team chosen with setTeam ('' for the user's first). */
export function currentTeam(): string {
  return teamId;
}
export function setUnauthenticatedHandler(f: (() => void) | null) {
  onUnauthenticated = f;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

interface Options {
  body?: unknown; // JSON-encoded
  raw?: Blob | ArrayBuffer | string; // sent as is (file uploads)
  signal?: AbortSignal;
}

async function request(method: string, path: string, opts: Options = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  let body: BodyInit | undefined;
  if (opts.raw !== undefined) {
    headers['Content-Type'] = 'application/octet-stream';
    body = opts.raw;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (teamId) headers['X-Warren-Team'] = teamId;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the server: ${errorMessage(e)}`, 0, 'network');
  }
  if (!res.ok) throw await toError(res);
  return res;
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    if (j && j.error && typeof j.error.message === 'string') {
      const err = new ApiError(j.error.message, res.status, j.error.code ?? 'unknown', j.error.field || undefined, j.request_id);
      if (res.status === 401 && onUnauthenticated) onUnauthenticated();
      return err;
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(`HTTP ${res.status} ${res.statusText}`.trim(), res.status, 'http');
}

export async function api<T>(method: string, path: string, opts: Options = {}): Promise<T> {
  const res = await request(method, path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function apiBlob(path: string, signal?: AbortSignal): Promise<Blob> {
  const res = await request('GET', path, { signal });
  return res.blob();
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, { signal });
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, { body: body ?? {} });
export const del = <T>(path: string) => api<T>('DELETE', path);

/** qs builds a query string from the set values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

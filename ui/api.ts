/**
 * The board's one way to the API: the token from sessionStorage as a bearer
 * header, a session that asks to log in again on a 401 without leaving the
 * page, and an "API unreachable" flag the shell shows as a banner while
 * polling retries.
 */

const TOKEN_KEY = 'slipway.token';

/** ApiError is a refused or failed call, with the API's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** SessionState is what the shell renders from: a token or none, whether it was refused, and whether the API answers. */
export interface SessionState {
  token: string | null;
  expired: boolean;
  apiDown: boolean;
}

let state: SessionState = { token: sessionStorage.getItem(TOKEN_KEY), expired: false, apiDown: false };
const listeners = new Set<() => void>();

function set(next: Partial<SessionState>): void {
  const merged = { ...state, ...next };
  if (merged.token === state.token && merged.expired === state.expired && merged.apiDown === state.apiDown) return;
  state = merged;
  for (const l of listeners) l();
}

/** session returns the current session state. */
export function session(): SessionState {
  return state;
}

/** subscribe calls back on every session change; returns the unsubscribe. */
export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** logIn keeps the token for this tab only (sessionStorage) and clears an expired session. */
export function logIn(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  set({ token, expired: false });
}

/** checkToken asks the API who a token is before keeping it, so a wrong one is refused with the API's reason and nothing is stored. */
export async function checkToken<T>(token: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/board/me', { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    set({ apiDown: true });
    throw new ApiError(0, 'unreachable', 'the Slipway API does not answer; try again in a moment');
  }
  set({ apiDown: false });
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.code ?? 'error', body.error?.message ?? `the API answered ${res.status}`);
  return body as T;
}

/** logOut forgets the token. */
export function logOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  set({ token: null, expired: false });
}

/** call sends one request; JSON in and out. A 401 marks the session expired, a network failure or 502-504 marks the API down. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    set({ apiDown: true });
    throw new ApiError(0, 'unreachable', 'the Slipway API does not answer; retrying');
  }
  set({ apiDown: res.status === 502 || res.status === 503 || res.status === 504 });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a proxy's error page): fall back to the status below.
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401) set({ expired: true });
    throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? `${method} ${path} answered ${res.status}`);
  }
  return parsed as T;
}

/** download fetches a JSON document with the token and saves it as a file (a blob link: no token in any URL). */
export async function download(path: string, filename: string): Promise<void> {
  const doc = await call<unknown>('GET', path);
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

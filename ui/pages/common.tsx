/** Pieces the pages share. */
import { ApiError } from '../api';
import { tone, words } from '../format';

/** Problem shows a failed call's message (a 401 is handled by the login dialog, an unreachable API by the banner). */
export function Problem({ error }: { error: Error | undefined }) {
  if (!error) return null;
  if (error instanceof ApiError && (error.status === 401 || error.status === 0)) return null;
  return <p class="error" role="alert">{error.message}</p>;
}

/** Status is a coloured badge with the status in words. */
export function Status({ status }: { status: string }) {
  return <span class={`badge ${tone(status)}`}>{words(status)}</span>;
}

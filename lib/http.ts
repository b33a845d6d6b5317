/**
 * What the plugins that call HTTP services share (the webhook target, the
 * webhook and prompt-suite gates): reading an answer without letting a
 * hostile server fill memory, quoting it in an error, and telling "could not
 * ask" (worth another attempt) from "was told no".
 */

/** readCapped reads a response body as text, stopping (and cancelling the stream) after `max` bytes. */
export async function readCapped(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** snippet quotes an answer for an error message: `: <text>` on one line, at most 300 characters; empty for an empty answer. */
export function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t === '' ? '' : `: ${t.length > 300 ? `${t.slice(0, 297)}...` : t}`;
}

// 4xx statuses that mean "busy or rate-limited", not "no": another attempt may be answered.
const RETRYABLE_4XX = new Set([408, 425, 429]);

/** isUnavailableStatus says whether an HTTP status means the service could not answer now (5xx, 408, 425, 429), so asking again may help. */
export function isUnavailableStatus(status: number): boolean {
  return status >= 500 || RETRYABLE_4XX.has(status);
}

/** isTimeout says whether a fetch failed because its AbortSignal.timeout fired. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/** describeFetchError is a failed fetch's message with its cause (fetch hides "connection refused" there). */
export function describeFetchError(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}

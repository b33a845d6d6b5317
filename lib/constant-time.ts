/**
 * The one comparison for secrets: bearer tokens, HMAC signatures, token
 * digests. Both sides are hashed first, so the time taken says nothing about
 * where the inputs differ or how long the secret is.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** constantTimeEqual tells whether two secrets (text as UTF-8, or bytes) are equal, in time independent of their content. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** bearerTokenMatches tells whether an Authorization header value is `Bearer <expected>`, in constant time. */
export function bearerTokenMatches(header: string | undefined, expected: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  // Compare even when the header is malformed, so a missing token takes as long as a wrong one.
  return constantTimeEqual(match?.[1] ?? '', expected) && match !== null;
}

function digest(value: string | Uint8Array): Buffer {
  return createHash('sha256').update(value).digest();
}

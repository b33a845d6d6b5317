/**
 * Request signing shared by the webhook deploy target and the webhook gate,
 * and the checks receivers run on it (docs/webhook-protocol.md):
 * `x-slipway-signature: t=<unix seconds>,v1=<hex>,v2=<hex>`, each an
 * HMAC-SHA256 with the shared secret.
 * - `v2` covers `v2\n<t>\n<METHOD>\n<URL>\n<body>`: a signed request cannot be
 *   replayed against another URL or with another method.
 * - `v1` covers `<t>.<body>` only. Still sent so receivers written before v2
 *   keep working while they upgrade; `verifyWebhookRequest` ignores it unless
 *   told to accept it, so stripping `v2` is no downgrade.
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time';

/** WEBHOOK_SIGNATURE_HEADER is the header carrying `t=<unix seconds>,v1=<hex>,v2=<hex>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-slipway-signature';

/** DEFAULT_SIGNATURE_TOLERANCE_SEC is the replay window receivers should allow: 5 minutes either side of their clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_SEC = 300;

/** SignedRequest is what a v2 signature covers: the method, the absolute URL as sent, and the body bytes. */
export interface SignedRequest {
  method: string;
  url: string;
  body: string | Uint8Array;
}

/** signWebhookRequest is the signature header value for a request sent at `now`: `t=<unix seconds>,v1=<hex>,v2=<hex>`. */
export function signWebhookRequest(secret: string, request: SignedRequest, now: Date = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${v1Hex(secret, t, request.body)},v2=${v2Hex(secret, t, request)}`;
}

/** signWebhookBody is the v1-only signature header of a body (`t=<unix seconds>,v1=<hex>`), for receivers not yet on v2; new senders use signWebhookRequest. */
export function signWebhookBody(secret: string, body: string | Uint8Array, now: Date = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${v1Hex(secret, t, body)}`;
}

/** canonicalSignedUrl is the URL a v2 signature covers: the WHATWG serialisation (lowercase scheme and host, default port dropped). */
export function canonicalSignedUrl(url: string): string {
  return new URL(url).href;
}

function v1Hex(secret: string, t: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

function v2Hex(secret: string, t: number, request: SignedRequest): string {
  return createHmac('sha256', secret).update(`v2\n${t}\n${request.method.toUpperCase()}\n${canonicalSignedUrl(request.url)}\n`).update(request.body).digest('hex');
}

/** WebhookSignatureCheck is the outcome of verifying a request: valid with its timestamp and the version that matched, or why not. */
export type WebhookSignatureCheck = { valid: true; timestamp: number; version: 'v1' | 'v2' } | { valid: false; reason: string };

/** VerifyOptions tune a check: the replay window, the clock, and whether a v1-only header is still accepted. */
export interface VerifyOptions {
  toleranceSec?: number;
  now?: Date;
  /** Accept a header with no v2 entry by its v1 (body only) signature: only while senders older than v2 remain. */
  acceptV1?: boolean;
}

interface ParsedHeader {
  timestamp: number;
  v1: Buffer[];
  v2: Buffer[];
}

function parseHeader(header: string | readonly string[] | null | undefined): ParsedHeader | string {
  const text = Array.isArray(header) ? header.join(',') : (header as string | null | undefined);
  if (typeof text !== 'string' || text.trim() === '') return `missing ${WEBHOOK_SIGNATURE_HEADER} header`;
  let timestamp: number | undefined;
  const v1: Buffer[] = [];
  const v2: Buffer[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return `malformed ${WEBHOOK_SIGNATURE_HEADER} header: expected one t=<unix seconds>`;
      timestamp = Number(value);
    } else if ((key === 'v1' || key === 'v2') && /^[0-9a-f]{64}$/i.test(value)) {
      (key === 'v1' ? v1 : v2).push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined) return `malformed ${WEBHOOK_SIGNATURE_HEADER} header: no t=<unix seconds>`;
  return { timestamp, v1, v2 };
}

function anyMatches(expected: string[], given: Buffer[]): boolean {
  // Every pair is compared, so the time taken does not say which secret or entry matched.
  let found = false;
  for (const hex of expected) {
    const e = Buffer.from(hex, 'hex');
    for (const g of given) if (constantTimeEqual(e, g)) found = true;
  }
  return found;
}

function checkSkew(timestamp: number, toleranceSec: number, now: Date): string | undefined {
  const skew = Math.floor(now.getTime() / 1000) - timestamp;
  if (Math.abs(skew) <= toleranceSec) return undefined;
  return `timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}, outside the ${toleranceSec} s window: a replayed request, or clocks out of sync`;
}

/**
 * verifyWebhookRequest checks a request's `x-slipway-signature` header against its method, the absolute URL it was
 * sent to (the receiver's public base URL plus the request's path and query) and the raw body bytes (as received,
 * before any JSON parsing). It requires a matching `v2`; a header with no `v2` is accepted by `v1` only with
 * `acceptV1`. Several secrets may be given while one is rotated out. A timestamp more than `toleranceSec` from
 * `now` is refused, so a captured request cannot be replayed later.
 */
export function verifyWebhookRequest(
  secret: string | readonly string[],
  header: string | readonly string[] | null | undefined,
  request: SignedRequest,
  options: VerifyOptions = {},
): WebhookSignatureCheck {
  const parsed = parseHeader(header);
  if (typeof parsed === 'string') return { valid: false, reason: parsed };
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let version: 'v1' | 'v2';
  if (parsed.v2.length > 0) {
    let url: string;
    try {
      url = canonicalSignedUrl(request.url);
    } catch {
      return { valid: false, reason: 'the request URL given to the check is not an absolute URL: pass the public base URL plus the path and query' };
    }
    if (!anyMatches(secrets.map((s) => v2Hex(s, parsed.timestamp, { ...request, url })), parsed.v2)) {
      return { valid: false, reason: 'v2 signature does not match: wrong secret, or the method, URL or body differ from what was signed (is the URL the one the sender used?)' };
    }
    version = 'v2';
  } else if (options.acceptV1 && parsed.v1.length > 0) {
    if (!anyMatches(secrets.map((s) => v1Hex(s, parsed.timestamp, request.body)), parsed.v1)) {
      return { valid: false, reason: 'signature does not match the body: wrong secret, or the body was changed in transit' };
    }
    version = 'v1';
  } else {
    return { valid: false, reason: `malformed ${WEBHOOK_SIGNATURE_HEADER} header: no v2=<64 hex characters>${parsed.v1.length > 0 ? ' (a v1-only signature is not accepted here)' : ''}` };
  }
  const skew = checkSkew(parsed.timestamp, options.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_SEC, options.now ?? new Date());
  if (skew) return { valid: false, reason: skew };
  return { valid: true, timestamp: parsed.timestamp, version };
}

/**
 * verifyWebhookSignature is the v1 check (body and timestamp only), kept for receivers written before v2: prefer
 * verifyWebhookRequest, which also binds the method and URL. Several `v1=` entries and several secrets are accepted
 * for rotation; a timestamp outside `toleranceSec` is refused.
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  header: string | readonly string[] | null | undefined,
  body: string | Uint8Array,
  toleranceSec: number = DEFAULT_SIGNATURE_TOLERANCE_SEC,
  now: Date = new Date(),
): WebhookSignatureCheck {
  const parsed = parseHeader(header);
  if (typeof parsed === 'string') return { valid: false, reason: parsed };
  if (parsed.v1.length === 0) return { valid: false, reason: `malformed ${WEBHOOK_SIGNATURE_HEADER} header: no v1=<64 hex characters>` };
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!anyMatches(secrets.map((s) => v1Hex(s, parsed.timestamp, body)), parsed.v1)) {
    return { valid: false, reason: 'signature does not match the body: wrong secret, or the body was changed in transit' };
  }
  const skew = checkSkew(parsed.timestamp, toleranceSec, now);
  if (skew) return { valid: false, reason: skew };
  return { valid: true, timestamp: parsed.timestamp, version: 'v1' };
}

/**
 * Request signing shared by the webhook deploy target and the webhook gate:
 * `x-slipway-signature: t=<unix seconds>,v1=<hex>`, HMAC-SHA256 over
 * `<t>.<body>` with the shared secret, and the check receivers run on it
 * (docs/webhook-protocol.md).
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time';

/** WEBHOOK_SIGNATURE_HEADER is the header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-slipway-signature';

/** DEFAULT_SIGNATURE_TOLERANCE_SEC is the replay window receivers should allow: 5 minutes either side of their clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_SEC = 300;

/** signWebhookBody is the signature header value for a body sent at `now`: `t=<unix seconds>,v1=<hex>`. */
export function signWebhookBody(secret: string, body: string | Uint8Array, now: Date = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

function hmacHex(secret: string, t: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

/** WebhookSignatureCheck is the outcome of verifying a request: valid with its timestamp, or why not. */
export type WebhookSignatureCheck = { valid: true; timestamp: number } | { valid: false; reason: string };

/**
 * verifyWebhookSignature checks a request's `x-slipway-signature` header
 * against the raw body bytes (as received, before any JSON parsing), for
 * receivers. Several secrets may be given while one is rotated out; several
 * `v1=` entries in the header are accepted for the same reason. A timestamp
 * more than `toleranceSec` away from `now` is refused, so a captured request
 * cannot be replayed later.
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  header: string | readonly string[] | null | undefined,
  body: string | Uint8Array,
  toleranceSec: number = DEFAULT_SIGNATURE_TOLERANCE_SEC,
  now: Date = new Date(),
): WebhookSignatureCheck {
  const text = Array.isArray(header) ? header.join(',') : (header as string | null | undefined);
  if (typeof text !== 'string' || text.trim() === '') return { valid: false, reason: `missing ${WEBHOOK_SIGNATURE_HEADER} header` };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return { valid: false, reason: `malformed ${WEBHOOK_SIGNATURE_HEADER} header: expected one t=<unix seconds>` };
      timestamp = Number(value);
    } else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined) return { valid: false, reason: `malformed ${WEBHOOK_SIGNATURE_HEADER} header: no t=<unix seconds>` };
  if (signatures.length === 0) return { valid: false, reason: `malformed ${WEBHOOK_SIGNATURE_HEADER} header: no v1=<64 hex characters>` };
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const matches = secrets.some((s) => {
    const expected = Buffer.from(hmacHex(s, timestamp, body), 'hex');
    return signatures.some((given) => constantTimeEqual(expected, given));
  });
  if (!matches) return { valid: false, reason: 'signature does not match the body: wrong secret, or the body was changed in transit' };
  const skew = Math.floor(now.getTime() / 1000) - timestamp;
  if (Math.abs(skew) > toleranceSec) {
    return { valid: false, reason: `timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}, outside the ${toleranceSec} s window: a replayed request, or clocks out of sync` };
  }
  return { valid: true, timestamp };
}

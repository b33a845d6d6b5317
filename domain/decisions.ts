/**
 * Decisions the API forwards to Temporal (a release start with its requester,
 * an approval, a rejection, a rollback request), signed with the API's
 * Ed25519 key. Workers check them against the public keys in their own
 * configuration, so a message that reaches Temporal by any other way can claim
 * a name but never a verified identity.
 *
 * Pure (the verifier is @noble/curves, no node:crypto), so the release
 * workflow checks signatures itself, deterministically, on replay too.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJson } from './canonical-json';
import type { RetryRequest } from './retry';

/** Identity is who a decision is from, as the API verified it. */
export interface VerifiedIdentity {
  user: string;
  /** How the API verified it: a tokens-file token, or an OIDC ID token (issuer recorded). */
  via: 'token' | 'oidc';
  issuer?: string;
}

/** The decisions the API signs; `issuedAt` bounds replays (see verifyDecision). */
export type DecisionPayload =
  | { kind: 'release.start'; releaseId: string; model: string; version: string; requester: VerifiedIdentity; actor?: string; hotfix?: true; retry?: RetryRequest; issuedAt: string }
  | { kind: 'release.approve'; releaseId: string; stage: string; approver: VerifiedIdentity; comment?: string; breakGlass?: true; issuedAt: string }
  | { kind: 'release.reject'; releaseId: string; stage: string; approver: VerifiedIdentity; comment: string; issuedAt: string }
  | { kind: 'rollback.request'; rollbackId: string; model: string; env: string; toVersion?: string; requester: VerifiedIdentity; reason: string; issuedAt: string };

export type DecisionKind = DecisionPayload['kind'];

/** SignedDecision is a payload with the API's Ed25519 signature over its canonical JSON. */
export interface SignedDecision<P extends DecisionPayload = DecisionPayload> {
  payload: P;
  /** Which API key signed it (decisionKeyId of the public key). */
  keyId: string;
  /** base64 Ed25519 signature over decisionSigningInput(payload). */
  signature: string;
}

/** DECISION_MAX_AGE_MS: how long a signed decision stays usable after the API signed it (sent again, it is fresh). */
export const DECISION_MAX_AGE_MS = 15 * 60_000;

/** TrustedKeys maps key ids to raw 32-byte Ed25519 public keys (base64), from the worker's own configuration. */
export type TrustedKeys = Record<string, string>;

// Domain separation: a signature over a decision can never be read as a signature over anything else Slipway signs.
const DECISION_CONTEXT = 'slipway-decision-v1\n';

/** decisionSigningInput is the exact bytes that are signed and verified. */
export function decisionSigningInput(payload: DecisionPayload): Uint8Array {
  return utf8(DECISION_CONTEXT + canonicalJson(payload));
}

// The workflow sandbox's TextEncoder returns another realm's Uint8Array, which the verifier rejects; this one is local.
function utf8(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(bytes);
}


/** Verification is a checked decision, or why it is not one. */
export type Verification<P extends DecisionPayload> = { ok: true; payload: P } | { ok: false; reason: string };

/**
 * verifyDecision checks shape, kind, signature and freshness. `notBefore` is
 * when the receiving run started (a decision signed for an earlier run of the
 * same release id is refused), `now` is the receiver's clock; a decision may
 * be at most `maxAgeMs` old and not from the future beyond `skewMs`.
 */
export function verifyDecision<K extends DecisionKind>(
  raw: unknown,
  kind: K,
  keys: TrustedKeys,
  clock: { now: string; notBefore?: string; maxAgeMs?: number; skewMs?: number },
): Verification<Extract<DecisionPayload, { kind: K }>> {
  if (raw === null || typeof raw !== 'object') return { ok: false, reason: 'decision must be {"payload": …, "keyId": …, "signature": …}' };
  const { payload, keyId, signature } = raw as Partial<SignedDecision>;
  if (!payload || typeof payload !== 'object' || typeof keyId !== 'string' || typeof signature !== 'string') {
    return { ok: false, reason: 'decision must be {"payload": …, "keyId": …, "signature": …}' };
  }
  if (payload.kind !== kind) return { ok: false, reason: `decision is a ${String(payload.kind)}, expected ${kind}` };
  const key = keys[keyId];
  if (key === undefined) return { ok: false, reason: `decision signed by unknown key ${keyId.slice(0, 32)}; the worker trusts ${Object.keys(keys).join(', ') || 'no API key (SLIPWAY_API_PUBLIC_KEYS is unset)'}` };
  let valid: boolean;
  try {
    valid = ed25519.verify(fromBase64(signature), decisionSigningInput(payload), fromBase64(key));
  } catch (err) {
    return { ok: false, reason: `decision signature is malformed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!valid) return { ok: false, reason: 'decision signature does not verify: it was not signed by the API, or was changed after signing' };
  const issued = Date.parse(payload.issuedAt);
  const now = Date.parse(clock.now);
  if (!Number.isFinite(issued)) return { ok: false, reason: 'decision has no valid issuedAt' };
  const skew = clock.skewMs ?? 5 * 60_000;
  if (issued > now + skew) return { ok: false, reason: `decision issued in the future (${payload.issuedAt})` };
  if (clock.notBefore !== undefined && issued < Date.parse(clock.notBefore) - skew) {
    return { ok: false, reason: `decision issued at ${payload.issuedAt}, before this run started (${clock.notBefore}): it belongs to an earlier run` };
  }
  if (clock.maxAgeMs !== undefined && now - issued > clock.maxAgeMs) return { ok: false, reason: `decision issued at ${payload.issuedAt} is too old; send it again` };
  return { ok: true, payload: payload as Extract<DecisionPayload, { kind: K }> };
}

/** identityLabel is how a verified identity is written in states and audit events. */
export function identityLabel(id: VerifiedIdentity): string {
  return id.via === 'oidc' && id.issuer ? `${id.user} (oidc ${id.issuer})` : `${id.user} (${id.via})`;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// Neither Buffer nor atob exists in the workflow sandbox; a malformed input throws, naming what is wrong.
function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) throw new Error('not base64 (bad length)');
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of clean) {
    const v = BASE64.indexOf(ch);
    if (v < 0) throw new Error('not base64');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

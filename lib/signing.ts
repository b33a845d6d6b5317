/**
 * Ed25519 keys for the decisions the API signs (and anything else Slipway
 * signs: audit checkpoints, evidence bundles). The private key lives only
 * with the API (SLIPWAY_API_SIGNING_KEY, a PKCS#8 PEM file); workers and
 * auditors get the public keys (SLIPWAY_API_PUBLIC_KEYS, `base64,…`).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { canonicalJson } from '../domain/canonical-json';
import { decisionSigningInput, type DecisionPayload, type SignedDecision, type TrustedKeys } from '../domain/decisions';

/** Signer holds the API's private key and signs decisions and documents. */
export class Signer {
  readonly keyId: string;
  readonly publicKey: string;

  constructor(private readonly key: KeyObject) {
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`signing key must be Ed25519, got ${key.asymmetricKeyType}`);
    this.publicKey = rawPublicKey(createPublicKey(key));
    this.keyId = keyIdOf(this.publicKey);
  }

  /** fromPemFile reads a PKCS#8 PEM private key, naming the variable on error. */
  static fromPemFile(file: string, variable = 'SLIPWAY_API_SIGNING_KEY'): Signer {
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return new Signer(createPrivateKey(pem));
    } catch (err) {
      throw new Error(`${variable}: ${file} is not an Ed25519 private key in PEM (make one with: openssl genpkey -algorithm ed25519 -out key.pem): ${(err as Error).message}`, { cause: err });
    }
  }

  /** generate makes a fresh key (tests and `slipway dev`). */
  static generate(): Signer {
    return new Signer(generateKeyPairSync('ed25519').privateKey);
  }

  /** pem is the private key as PKCS#8 PEM, for writing a dev key file. */
  pem(): string {
    return this.key.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** trusted is the TrustedKeys a worker configured with this key's public half holds. */
  trusted(): TrustedKeys {
    return { [this.keyId]: this.publicKey };
  }

  /** signDecision signs one decision payload. */
  signDecision<P extends DecisionPayload>(payload: P): SignedDecision<P> {
    return { payload, keyId: this.keyId, signature: sign(null, decisionSigningInput(payload), this.key).toString('base64') };
  }

  /** signDocument signs canonical JSON of `body` under a context string (e.g. "slipway-evidence-v1"). */
  signDocument(context: string, body: unknown): { keyId: string; signature: string } {
    return { keyId: this.keyId, signature: sign(null, documentSigningInput(context, body), this.key).toString('base64') };
  }
}

/** verifyDocument checks a signDocument signature against trusted public keys. */
export function verifyDocument(context: string, body: unknown, sig: { keyId: string; signature: string }, keys: TrustedKeys): boolean {
  const raw = keys[sig.keyId];
  if (!raw) return false;
  try {
    return verify(null, documentSigningInput(context, body), publicKeyFromRaw(raw), Buffer.from(sig.signature, 'base64'));
  } catch {
    return false;
  }
}

/** parseTrustedKeys reads `base64,base64` (raw 32-byte Ed25519 public keys) into TrustedKeys, naming the variable on error. */
export function parseTrustedKeys(text: string | undefined, variable = 'SLIPWAY_API_PUBLIC_KEYS'): TrustedKeys {
  const keys: TrustedKeys = {};
  for (const item of (text ?? '').split(',').map((k) => k.trim()).filter(Boolean)) {
    if (Buffer.from(item, 'base64').length !== 32) throw new Error(`${variable}: "${item.slice(0, 12)}…" is not a base64 raw Ed25519 public key (32 bytes); \`slipway keys public\` prints one`);
    keys[keyIdOf(item)] = item;
  }
  return keys;
}

/** keyIdOf names a raw public key: the first 16 hex digits of its sha256. */
export function keyIdOf(rawPublicKeyBase64: string): string {
  return createHash('sha256').update(Buffer.from(rawPublicKeyBase64, 'base64')).digest('hex').slice(0, 16);
}

function documentSigningInput(context: string, body: unknown): Buffer {
  return Buffer.from(`${context}\n${canonicalJson(body)}`, 'utf8');
}

function rawPublicKey(key: KeyObject): string {
  // The SPKI DER of an Ed25519 key is a fixed 12-byte header and the 32 raw bytes.
  return key.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
}

/** publicKeyFromRaw makes a node:crypto key of a raw base64 Ed25519 public key. */
export function publicKeyFromRaw(rawBase64: string): KeyObject {
  const header = Buffer.from('302a300506032b6570032100', 'hex');
  return createPublicKey({ key: Buffer.concat([header, Buffer.from(rawBase64, 'base64')]), format: 'der', type: 'spki' });
}

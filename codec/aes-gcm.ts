/**
 * An optional payload codec: AES-256-GCM over each whole Temporal payload,
 * with the key id in the metadata so keys can rotate (new payloads use the
 * current key; every listed key still decrypts). Client, worker and the API's
 * codec endpoint share it, so the Temporal Web UI can show decoded payloads
 * to those allowed to see them.
 *
 * Format 2 (metadata `encryption-format: 2`) authenticates the key id and the
 * Temporal namespace as associated data: a ciphertext copied into another
 * namespace, or relabelled with another key id, no longer decrypts. Payloads
 * written before (no format header) carry no associated data and still decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** ENCODING is the metadata encoding of an encrypted payload. */
export const ENCODING = 'binary/encrypted';
/** KEY_ID_HEADER names the metadata key that says which key encrypted a payload. */
export const KEY_ID_HEADER = 'encryption-key-id';
/** FORMAT_HEADER names the metadata key holding the payload format; absent means format 1 (no associated data). */
export const FORMAT_HEADER = 'encryption-format';
/** FORMAT_BOUND is the format that binds key id and namespace as associated data. */
export const FORMAT_BOUND = '2';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** CodecKey is one AES-256 key and its id. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/** AesGcmCodec encrypts with the first key and decrypts with any key it holds. */
export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(
    private readonly keys: CodecKey[],
    /** The Temporal namespace the payloads live in (TEMPORAL_NAMESPACE), bound into each new ciphertext. */
    readonly namespace: string,
  ) {
    if (!namespace) throw new Error('AesGcmCodec needs the Temporal namespace (TEMPORAL_NAMESPACE) its payloads belong to');
    if (keys.length === 0) throw new Error('AesGcmCodec needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`codec key "${k.id}" must be 32 bytes (AES-256), got ${k.key.length}`);
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** encode wraps each payload, whole (metadata included), in an encrypted payload. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(associatedData(id, this.namespace));
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: Buffer.from(ENCODING), [KEY_ID_HEADER]: Buffer.from(id), [FORMAT_HEADER]: Buffer.from(FORMAT_BOUND) }, data };
    });
  }

  /** decode unwraps encrypted payloads and passes others through unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_HEADER] ?? []).toString();
      const key = this.byId.get(keyId);
      if (!key) throw new Error(`payload was encrypted with key "${keyId}", which this process does not have (SLIPWAY_CODEC_KEYS)`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is too short to be valid');
      const format = payload.metadata?.[FORMAT_HEADER] ? Buffer.from(payload.metadata[FORMAT_HEADER]).toString() : '1';
      if (format !== '1' && format !== FORMAT_BOUND) throw new Error(`encrypted payload has format "${format.slice(0, 16)}", which this version of Slipway does not know (it reads 1 and ${FORMAT_BOUND})`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      if (format === FORMAT_BOUND) decipher.setAAD(associatedData(keyId, this.namespace));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new Error(`encrypted payload does not authenticate under key "${keyId}" in namespace "${this.namespace}": it was altered, relabelled, or copied from another namespace`);
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

// Length-prefixed by JSON, so no key id and namespace pair can spell another's.
function associatedData(keyId: string, namespace: string): Buffer {
  return Buffer.from(JSON.stringify(['slipway-payload', FORMAT_BOUND, keyId, namespace]));
}

/**
 * parseCodecKeys reads SLIPWAY_CODEC_KEYS: comma-separated `id:base64key`,
 * the first being the one new payloads are encrypted with.
 */
export function parseCodecKeys(spec: string): CodecKey[] {
  const keys = spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const i = part.indexOf(':');
      if (i <= 0) throw new Error('SLIPWAY_CODEC_KEYS must be "keyId:base64key[,oldKeyId:base64key…]" (generate a key: openssl rand -base64 32)');
      const id = part.slice(0, i);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`SLIPWAY_CODEC_KEYS: key id "${id.slice(0, 64)}" must be letters, digits, . _ -`);
      const key = Buffer.from(part.slice(i + 1), 'base64');
      if (key.length !== 32) throw new Error(`SLIPWAY_CODEC_KEYS: key "${id}" must decode to 32 bytes (openssl rand -base64 32), got ${key.length}`);
      return { id, key };
    });
  if (keys.length === 0) throw new Error('SLIPWAY_CODEC_KEYS is set but holds no keys');
  const ids = new Set(keys.map((k) => k.id));
  if (ids.size !== keys.length) throw new Error('SLIPWAY_CODEC_KEYS lists a key id twice');
  return keys;
}

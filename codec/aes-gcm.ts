/**
 * An optional payload codec: AES-256-GCM over each whole Temporal payload,
 * with the key id in the metadata so keys can rotate (new payloads use the
 * current key; every listed key still decrypts). Client, worker and the API's
 * codec endpoint share it, so the Temporal Web UI can show decoded payloads
 * to those allowed to see them.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** ENCODING is the metadata encoding of an encrypted payload. */
export const ENCODING = 'binary/encrypted';
/** KEY_ID_HEADER names the metadata key that says which key encrypted a payload. */
export const KEY_ID_HEADER = 'encryption-key-id';

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

  constructor(private readonly keys: CodecKey[]) {
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
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: Buffer.from(ENCODING), [KEY_ID_HEADER]: Buffer.from(id) }, data };
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
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
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

/** The data converter every Temporal client and worker in Slipway uses. */
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec, parseCodecKeys } from './aes-gcm';

/** codecFromKeys builds the payload codec from SLIPWAY_CODEC_KEYS for one Temporal namespace, or none when unset. */
export function codecFromKeys(codecKeys: string | undefined, namespace: string): AesGcmCodec | undefined {
  return codecKeys ? new AesGcmCodec(parseCodecKeys(codecKeys), namespace) : undefined;
}

/** dataConverterFor returns the data converter for the configured keys and namespace (undefined = Temporal's default). */
export function dataConverterFor(codecKeys: string | undefined, namespace: string): DataConverter | undefined {
  const codec = codecFromKeys(codecKeys, namespace);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

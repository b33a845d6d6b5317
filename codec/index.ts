/** The data converter every Temporal client and worker in Slipway uses. */
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec, parseCodecKeys } from './aes-gcm';

/** codecFromKeys builds the payload codec from SLIPWAY_CODEC_KEYS, or none when unset. */
export function codecFromKeys(codecKeys: string | undefined): AesGcmCodec | undefined {
  return codecKeys ? new AesGcmCodec(parseCodecKeys(codecKeys)) : undefined;
}

/** dataConverterFor returns the data converter for the configured keys (undefined = Temporal's default). */
export function dataConverterFor(codecKeys: string | undefined): DataConverter | undefined {
  const codec = codecFromKeys(codecKeys);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

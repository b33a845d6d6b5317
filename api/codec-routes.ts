/**
 * The codec endpoint the Temporal Web UI calls (`--ui-codec-endpoint`) to
 * show decoded payloads: POST /codec/decode and /codec/encode with
 * `{"payloads": [...]}` in Temporal's JSON payload form. Only callers allowed
 * to view releases may decode. Payloads are bound to the API's namespace
 * (TEMPORAL_NAMESPACE); the Web UI says which one it shows in X-Namespace.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { JSONToPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { z } from 'zod';
import type { AesGcmCodec } from '../codec/aes-gcm';

/** CodecRouteOptions configure who may call the codec endpoint. */
export interface CodecRouteOptions {
  codec: AesGcmCodec;
  /** Browser origins (the Web UI) allowed by CORS. */
  uiOrigins: string[];
  /** Checks the caller may view payloads; throws to refuse. */
  authorize: (req: FastifyRequest) => Promise<void>;
}

const payloadsSchema = z.strictObject({
  payloads: z
    .array(z.strictObject({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(1000, 'at most 1000 payloads per call'),
});

/** registerCodecRoutes adds /codec/encode and /codec/decode (with CORS for the Web UI). */
export function registerCodecRoutes(app: FastifyInstance, options: CodecRouteOptions): void {
  const cors = (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin && options.uiOrigins.includes(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
      reply.header('vary', 'origin');
    }
  };
  const typed = app.withTypeProvider<ZodTypeProvider>();
  for (const op of ['encode', 'decode'] as const) {
    typed.options(`/codec/${op}`, { schema: { hide: true } }, async (req, reply) => {
      cors(req, reply);
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'content-type, authorization, x-namespace');
      return reply.code(204).send();
    });
    typed.post(`/codec/${op}`, {
      onRequest: async (req, reply) => {
        cors(req, reply);
        await options.authorize(req);
      },
      schema: { summary: `Temporal Web UI codec: ${op} payloads`, body: payloadsSchema },
    }, async (req) => {
      // Payloads are bound to their namespace: decoding another namespace's could only fail, so say why instead.
      const namespace = req.headers['x-namespace'];
      if (namespace !== undefined && namespace !== options.codec.namespace) {
        throw Object.assign(new Error(`X-Namespace "${String(namespace).slice(0, 100)}": this API encodes and decodes payloads of namespace "${options.codec.namespace}" (TEMPORAL_NAMESPACE) only`), { statusCode: 400 });
      }
      const payloads = req.body.payloads.map((p) => JSONToPayload(p as Parameters<typeof JSONToPayload>[0]));
      try {
        const result = op === 'decode' ? await options.codec.decode(payloads) : await options.codec.encode(payloads);
        return { payloads: result.map(payloadToJSON) };
      } catch (err) {
        throw Object.assign(new Error(`cannot ${op}: ${(err as Error).message}`), { statusCode: 400 });
      }
    });
  }
}

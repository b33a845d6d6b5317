/** The `webhook` gate's config: the user's verdict service and the variable holding the secret requests are signed with. */
import type { z } from 'zod';
import { envVarNameSchema, httpUrlSchema } from '../../domain/fields';
import { defineGateConfig, gateTimeoutSchema } from '../fields';

/** webhookGateSchema asks the user's service for a verdict with a signed request (docs/webhook-protocol.md). */
export const webhookGateSchema = defineGateConfig('webhook', {
  // The service that answers {passed, checks?, reason?}.
  url: httpUrlSchema,
  // Environment variable holding the HMAC secret the request is signed with.
  secretEnv: envVarNameSchema,
  // No answer within this and the gate activity asks again (a few times), never a release stuck waiting.
  timeout: gateTimeoutSchema.default('10s'),
});

/** WebhookGateConfig is the config of a `webhook` gate. */
export type WebhookGateConfig = z.output<typeof webhookGateSchema>;

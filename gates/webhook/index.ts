/** The `webhook` gate: a verdict from the user's own service, asked with a signed request. */
import { defineGate } from '../types';
import { webhookGateSchema } from './schema';

/** webhookGate registers the `webhook` gate: its config schema now, its implementation when it first runs. */
export const webhookGate = defineGate({
  type: 'webhook',
  secretEnvFields: ['secretEnv'],
  configSchema: webhookGateSchema,
  load: () => (require('./webhook') as typeof import('./webhook')).createWebhookGate().run,
});

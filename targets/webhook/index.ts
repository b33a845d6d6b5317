/**
 * The `webhook` deploy target, when the worker's environment names an
 * endpoint: SLIPWAY_WEBHOOK_URL and SLIPWAY_WEBHOOK_SECRET (both or neither).
 * Its calls follow SLIPWAY_OUTBOUND_ALLOW_HTTP and SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL (lib/outbound.ts).
 */
import { z } from 'zod';
import { outboundPolicyFromSettings } from '../../lib/outbound';
import { readPluginSettings, type PluginFactory } from '../../lib/plugins';
import type { DeployTarget } from '../types';
import { webhookTarget, webhookTargetConfigSchema } from './webhook-target';

/** webhookTargetSettingsSchema is the variables the webhook target reads, checked with the target's own rules. */
export const webhookTargetSettingsSchema = z
  .object({
    SLIPWAY_WEBHOOK_URL: webhookTargetConfigSchema.shape.url.optional(),
    SLIPWAY_WEBHOOK_SECRET: webhookTargetConfigSchema.shape.secret.optional(),
  })
  .superRefine((settings, ctx) => {
    if ((settings.SLIPWAY_WEBHOOK_URL === undefined) !== (settings.SLIPWAY_WEBHOOK_SECRET === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'the webhook target needs both SLIPWAY_WEBHOOK_URL and SLIPWAY_WEBHOOK_SECRET (or neither)' });
    }
  });

/** webhookTargetFactory builds the `webhook` target from the worker's settings, or null when they name no endpoint. */
export const webhookTargetFactory: PluginFactory<DeployTarget> = (ctx) => {
  const settings = readPluginSettings('webhook target', webhookTargetSettingsSchema, ctx.settings);
  if (settings.SLIPWAY_WEBHOOK_URL === undefined || settings.SLIPWAY_WEBHOOK_SECRET === undefined) return null;
  return webhookTarget({ url: settings.SLIPWAY_WEBHOOK_URL, secret: settings.SLIPWAY_WEBHOOK_SECRET, registry: ctx.registry, outbound: outboundPolicyFromSettings(ctx.settings) });
};

/**
 * Every deploy target, in one list: the worker runs each factory with its
 * context (registry, serving supervisor, settings) and registers what comes
 * back by name. Adding a target is a folder (the target, its factory in
 * index.ts) and its entry below (with its import); stages name it under
 * `target:`.
 */
import { buildPlugins, type PluginContext, type PluginFactory } from '../lib/plugins';
import { localTargetFactory } from './local';
import { registryTargetFactory } from './registry';
import type { DeployTarget } from './types';
import { webhookTargetFactory } from './webhook';

/** TARGETS are the registered deploy-target factories. */
export const TARGETS: readonly PluginFactory<DeployTarget>[] = [
  registryTargetFactory,
  localTargetFactory,
  webhookTargetFactory,
];

/** buildTargets builds every registered target this worker is configured for. */
export function buildTargets(ctx: PluginContext): DeployTarget[] {
  return buildPlugins(TARGETS, ctx);
}

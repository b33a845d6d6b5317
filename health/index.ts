/**
 * Every health source, in one list: the worker runs each factory with its
 * context and registers what comes back by name. Adding a source is a folder
 * (the source, its factory in index.ts) and its entry below (with its
 * import); stages name it under `healthSource:`.
 */
import { buildPlugins, type PluginContext, type PluginFactory } from '../lib/plugins';
import { localHealthFactory } from './local';
import { registryHealthFactory } from './registry';
import type { HealthSource } from './types';

/** HEALTH_SOURCES are the registered health-source factories. */
export const HEALTH_SOURCES: readonly PluginFactory<HealthSource>[] = [
  registryHealthFactory,
  localHealthFactory,
];

/** buildHealthSources builds every registered health source this worker is configured for. */
export function buildHealthSources(ctx: PluginContext): HealthSource[] {
  return buildPlugins(HEALTH_SOURCES, ctx);
}

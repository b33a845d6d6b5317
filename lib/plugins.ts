/**
 * What a worker hands each deploy-target and health-source factory
 * (targets/index.ts, health/index.ts): the registry, the local serving
 * supervisor when this worker serves models itself, and the settings the
 * configuration read once from the environment. A factory returns its plugin,
 * or null when this worker is not configured for it.
 */
import type { z } from 'zod';
import type { Registry } from '../registry/registry';
import type { ReleaseStore } from '../registry/releases';
import type { LocalServingSupervisor } from '../serving/supervisor';

/** PluginSettings are the SLIPWAY_* environment variables as config/index.ts read them (unset and empty ones left out). */
export type PluginSettings = Readonly<Record<string, string>>;

/** PluginContext is what a factory may build its plugin from. */
export interface PluginContext {
  registry: Registry;
  releases: ReleaseStore;
  /** The local model servers, when this worker serves models itself (dev, demo, tests). */
  serving: LocalServingSupervisor | undefined;
  settings: PluginSettings;
}

/** PluginFactory builds a plugin from the worker's context, or returns null when it is not configured. */
export type PluginFactory<T> = (ctx: PluginContext) => T | null;

/** buildPlugins runs every factory and keeps the plugins that are configured, in order. */
export function buildPlugins<T>(factories: readonly PluginFactory<T>[], ctx: PluginContext): T[] {
  return factories.map((create) => create(ctx)).filter((plugin): plugin is T => plugin !== null);
}

/** readPluginSettings validates the variables a plugin owns with its own schema; the error names the plugin and the variable. */
export function readPluginSettings<S extends z.ZodType>(plugin: string, schema: S, settings: PluginSettings): z.output<S> {
  const parsed = schema.safeParse(settings);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => (i.path.length === 0 ? i.message : `${plugin}: ${i.path.join('.')} ${i.message}`));
  throw new Error(problems.join('; '));
}

/** A plugin context with nothing behind it, for the pure tests of target and health-source factories. */
import type { PluginContext, PluginSettings } from '../../lib/plugins';
import type { Registry } from '../../registry/registry';
import type { ReleaseStore } from '../../registry/releases';
import type { LocalServingSupervisor } from '../../serving/supervisor';

/** pluginContext is a worker's context with the given settings; `serving` says whether it supervises local model servers. */
export function pluginContext(settings: PluginSettings = {}, serving = false): PluginContext {
  return {
    registry: {} as Registry,
    releases: {} as ReleaseStore,
    serving: serving ? ({} as LocalServingSupervisor) : undefined,
    settings,
  };
}

/** The `registry` health source, on every worker: judges the health reports platforms post to the API. */
import type { PluginFactory } from '../../lib/plugins';
import type { HealthSource } from '../types';
import { registryHealthSource } from './registry-health';

/** registryHealthFactory builds the `registry` health source; it needs no settings. */
export const registryHealthFactory: PluginFactory<HealthSource> = (ctx) => registryHealthSource(ctx.releases);

/** The `registry` deploy target, on every worker: deploying moves the environment's live pointer. */
import type { PluginFactory } from '../../lib/plugins';
import type { DeployTarget } from '../types';
import { registryTarget } from './registry-target';

/** registryTargetFactory builds the `registry` target; it needs no settings. */
export const registryTargetFactory: PluginFactory<DeployTarget> = (ctx) => registryTarget(ctx.registry);

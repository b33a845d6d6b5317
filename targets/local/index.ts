/** The `local` deploy target, on workers that serve models themselves (serving/). */
import { fileAccessFromSettings } from '../../lib/files';
import type { PluginFactory } from '../../lib/plugins';
import type { DeployTarget } from '../types';
import { localTarget } from './local-target';

/** localTargetFactory builds the `local` target when the worker has a serving supervisor. */
export const localTargetFactory: PluginFactory<DeployTarget> = (ctx) => (ctx.serving ? localTarget({ registry: ctx.registry, supervisor: ctx.serving, files: fileAccessFromSettings(ctx.settings) }) : null);

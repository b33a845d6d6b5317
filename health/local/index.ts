/** The `local` health source, on workers that serve models themselves (serving/). */
import type { PluginFactory } from '../../lib/plugins';
import type { HealthSource } from '../types';
import { localHealthSource } from './local-health';

/** localHealthFactory builds the `local` health source when the worker has a serving supervisor; it fails closed below 30 requests. */
export const localHealthFactory: PluginFactory<HealthSource> = (ctx) => (ctx.serving ? localHealthSource({ supervisor: ctx.serving, minRequests: 30 }) : null);

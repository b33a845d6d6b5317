/**
 * The gate interface: a quality check run before a stage deploys. Gates are
 * registered by type with a schema for their config (Kargo's step runners).
 */
import type { z } from 'zod';
import type { ModelRegistry, VersionDoc } from '../../registry/types';
import type { GateResult } from '../../workflows/release/api';

/** GateContext is what a gate may look at. */
export interface GateContext {
  releaseId: string;
  env: string;
  candidate: VersionDoc;
  /** The version live in this environment now, if any. */
  live: VersionDoc | null;
  registry: ModelRegistry;
}

/** Gate checks a candidate version; it returns a verdict, it does not throw for a failed check. */
export interface Gate<C = unknown> {
  type: string;
  configSchema: z.ZodType<C>;
  run(ctx: GateContext, config: C): Promise<GateResult>;
}

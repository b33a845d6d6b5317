/**
 * The gate interface: a quality check run before a stage deploys. Each gate
 * type is a folder under gates/ with its config schema, its implementation
 * and its test, registered in gates/index.ts (Kargo's step runners).
 * How a gate answers (a verdict, or a retryable failure when it could not
 * ask) is in verdicts.ts.
 *
 * Pure: type imports only, so pipeline parsing may import the registrations.
 */
import type { z } from 'zod';
import type { Sandbox } from '../lib/sandbox';
import type { ModelRegistry, VersionDoc } from '../registry/types';
import type { GateResult } from '../workflows/release/api';

/** GateContext is what a gate may look at. */
export interface GateContext {
  releaseId: string;
  env: string;
  candidate: VersionDoc;
  /** The version live in this environment now, if any. */
  live: VersionDoc | null;
  registry: ModelRegistry;
  /** The only way a gate reads a secret, a file or a URL: the worker's allowlists (lib/sandbox.ts). */
  sandbox: Sandbox;
}

/** GateRun checks a candidate with a validated config and answers a verdict. */
export type GateRun<C> = (ctx: GateContext, config: C) => Promise<GateResult>;

/** Gate is a gate type: its name, the schema of its config, and how it runs. */
export interface Gate<C = unknown> {
  type: string;
  configSchema: z.ZodType<C>;
  /** Config fields naming an environment variable the gate reads a secret from (checked against SLIPWAY_SECRET_ENV_ALLOW). */
  secretEnvFields: readonly string[];
  run: GateRun<C>;
}

/** GateRegistration is what a gate folder's index.ts declares: its implementation is loaded by `load`, on first run, not at import. */
export interface GateRegistration<T extends string, C> {
  type: T;
  configSchema: z.ZodType<C>;
  /** Config fields naming a secret's environment variable; none when absent. */
  secretEnvFields?: readonly string[];
  load: () => GateRun<C>;
}

/** defineGate turns a registration into a Gate whose implementation (and what it imports) loads when the gate first runs. */
export function defineGate<T extends string, C>(registration: GateRegistration<T, C>): Gate<C> & { type: T } {
  let run: GateRun<C> | undefined;
  return {
    type: registration.type,
    configSchema: registration.configSchema,
    secretEnvFields: registration.secretEnvFields ?? [],
    run: (ctx, config) => (run ??= registration.load())(ctx, config),
  };
}

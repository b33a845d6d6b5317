/**
 * The gate interface: a quality check run before a stage deploys. Each gate
 * type is a folder under gates/ with its config schema, its implementation
 * and its test, registered in gates/index.ts (Kargo's step runners).
 *
 * A gate answers a verdict: `passed: false` when the model is not good
 * enough, or when the gate's own config or files are wrong (retrying cannot
 * change either). When it could not ask at all (a timeout, HTTP 5xx, a
 * refused connection) it throws a retryable ApplicationFailure
 * (GATE_UNAVAILABLE), so the gate activity's retry policy asks again.
 *
 * Pure (no I/O), so pipeline parsing may import the registrations.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { Registry, VersionDoc } from '../registry/registry';
import type { GateResult } from '../workflows/release.api';

/** GATE_UNAVAILABLE is the failure type a gate throws when it could not ask (timeout, 5xx, connection refused); retryable. */
export const GATE_UNAVAILABLE = 'GateUnavailable';

/** GateContext is what a gate may look at. */
export interface GateContext {
  releaseId: string;
  env: string;
  candidate: VersionDoc;
  /** The version live in this environment now, if any. */
  live: VersionDoc | null;
  registry: Registry;
}

/** GateRun checks a candidate with a validated config and answers a verdict. */
export type GateRun<C> = (ctx: GateContext, config: C) => Promise<GateResult>;

/** Gate is a gate type: its name, the schema of its config, and how it runs. */
export interface Gate<C = unknown> {
  type: string;
  configSchema: z.ZodType<C>;
  run: GateRun<C>;
}

/** GateRegistration is what a gate folder's index.ts declares: its implementation is loaded by `load`, on first run, not at import. */
export interface GateRegistration<T extends string, C> {
  type: T;
  configSchema: z.ZodType<C>;
  load: () => GateRun<C>;
}

/** defineGate turns a registration into a Gate whose implementation (and what it imports) loads when the gate first runs. */
export function defineGate<T extends string, C>(registration: GateRegistration<T, C>): Gate<C> & { type: T } {
  let run: GateRun<C> | undefined;
  return {
    type: registration.type,
    configSchema: registration.configSchema,
    run: (ctx, config) => (run ??= registration.load())(ctx, config),
  };
}

/** gateUnavailable is the retryable failure a gate throws when it could not ask: the gate activity's retry policy asks again. */
export function gateUnavailable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, GATE_UNAVAILABLE);
}

/** failedVerdict is a gate's answer when it could not judge for a reason retrying cannot change (bad config, missing file, refused request). */
export function failedVerdict(type: string, name: string, error: string): GateResult {
  return { type, name, passed: false, checks: [], error };
}

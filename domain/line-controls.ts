/**
 * Stop the line and quarantined versions: the pure part. A stop holds every
 * release before its next deploy in one environment (or all of them); a
 * quarantined version may never be released or rolled back to. The registry
 * keeps both (registry/line-controls.ts); the release workflow learns of them
 * only through the checkLine activity, never from a message.
 */
import { z } from 'zod';
import { envNameSchema } from './model-version';

/** ALL_SCOPE is the scope of a stop that holds every environment. */
export const ALL_SCOPE = 'all';

/** StopScope is `all` or one environment's name. */
export type StopScope = string;

/** MAX_REASON is the longest reason a stop, resume or quarantine may carry. */
export const MAX_REASON = 1000;

/** reasonSchema: a stop or quarantine says why, in words (never empty, bounded). */
export const reasonSchema = z
  .string({ error: 'reason must be a string: say why, e.g. --reason "incident 123: bad latency in prod"' })
  .trim()
  .min(1, 'reason must not be empty: say why, e.g. --reason "incident 123: bad latency in prod"')
  .max(MAX_REASON, `reason must be at most ${MAX_REASON} characters`);

/** stopScopeSchema accepts `all` or an environment name; the word `all` is never an environment here. */
export const stopScopeSchema = z
  .string({ error: 'scope must be "all" or an environment name' })
  .refine((s) => s === ALL_SCOPE || envNameSchema.safeParse(s).success, "scope must be \"all\" or an environment name (1-64 letters, digits, '_' or '-', no '$' or '.')");

/** LineStop is one active stop as the registry keeps it. */
export interface LineStop {
  scope: StopScope;
  reason: string;
  by: string;
  since: string;
}

/** Quarantine is a version marked so it is never released or rolled back to again. */
export interface Quarantine {
  model: string;
  version: string;
  reason: string;
  by: string;
  since: string;
}

/** LineWait is what a release held by a stop shows in its state (`waitingFor`). */
export interface LineWait extends LineStop {
  kind: 'line-stop';
  env: string;
}

/** LineCheck is the checkLine activity's answer for one release at one environment. */
export interface LineCheck {
  /** The stop that holds this environment (the env's own before `all`), or null. */
  stop: LineStop | null;
  /** The version's quarantine, or null. */
  quarantine: Quarantine | null;
  /** How long a held release waits before asking again (the worker's setting). */
  recheckMs: number;
}

/** stopFor picks, from the active stops, the one that holds env: its own first, else `all`. */
export function stopFor(stops: readonly LineStop[], env: string): LineStop | null {
  return stops.find((s) => s.scope === env) ?? stops.find((s) => s.scope === ALL_SCOPE) ?? null;
}

/** scopeLabel says a scope in words for summaries and messages. */
export function scopeLabel(scope: StopScope): string {
  return scope === ALL_SCOPE ? 'every environment' : scope;
}

/** lineStopSummary is the release summary while a stop holds it. */
export function lineStopSummary(env: string, stop: LineStop): string {
  return `line stopped for ${scopeLabel(stop.scope)} by ${stop.by} since ${stop.since}: ${stop.reason} — waiting before the next deploy to ${env} (it carries on after \`slipway resume\`)`;
}

/** quarantineReason is why a release of a quarantined version ends. */
export function quarantineReason(q: Quarantine): string {
  return `${q.model}@${q.version} is quarantined (by ${q.by} since ${q.since}: ${q.reason}); it may not be released`;
}

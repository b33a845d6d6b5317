/**
 * Stopping and resuming the line, and quarantining versions: the operations
 * the CLI (both modes) and the API share. The registry keeps and audits the
 * change (registry/line-controls.ts); this then wakes the releases concerned
 * with the `recheck-line` Signal, which carries nothing: each release asks the
 * registry itself (the checkLine activity) what holds it.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { environmentStopEvent, versionQuarantinedEvent, type EventDraft } from '../domain/events';
import { ALL_SCOPE, type LineStop, type Quarantine } from '../domain/line-controls';
import type { AuditSigner } from '../registry/audit';
import { InvalidInputError } from '../registry/errors';
import type { LineEvent, LineEventPublisher } from '../registry/line-controls';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import { recheckLineSignal, releaseWorkflowId } from '../workflows/release/api';
import type { EventPublisher } from './events';

/** LineControlServiceDeps are the connections the service uses; without Temporal it changes the registry and wakes no one. */
export interface LineControlServiceDeps {
  db: Db;
  temporal?: Client;
  /** Signs the audit checkpoints of the changes (the API's key). */
  auditSigner?: AuditSigner;
  /** Publishes stop on/off and quarantine events to the subscriptions; without it, none are sent. */
  events?: EventPublisher;
}

/** ScopeChoice is how front ends name a scope: one environment, or all of them. */
export interface ScopeChoice {
  env?: string;
  all?: boolean;
}

/** LineStatus is every stop in force and every quarantined version. */
export interface LineStatus {
  stops: LineStop[];
  quarantines: Quarantine[];
}

/** scopeOf turns `--env <env>` / `--all` into a scope, refusing both or neither by name. */
export function scopeOf(choice: ScopeChoice): string {
  if (choice.all === true && choice.env !== undefined) throw new InvalidInputError([{ field: 'env', reason: 'give either --env <env> or --all, not both' }]);
  if (choice.all === true) return ALL_SCOPE;
  if (choice.env === undefined) throw new InvalidInputError([{ field: 'env', reason: 'say which environment with --env <env>, or --all for every environment' }]);
  if (choice.env === ALL_SCOPE) throw new InvalidInputError([{ field: 'env', reason: '"all" is not an environment name: use --all to stop every environment' }]);
  return choice.env;
}

/** LineControlService stops and resumes the line and quarantines versions. */
export class LineControlService {
  readonly registry: Registry;
  private readonly releases: ReleaseStore;

  constructor(private readonly deps: LineControlServiceDeps) {
    this.registry = new Registry(deps.db, undefined, { auditSigner: deps.auditSigner, publishLineEvent: deps.events ? lineEventsTo(deps.events) : undefined });
    this.releases = new ReleaseStore(deps.db);
  }

  /** status lists the stops in force and the quarantined versions. */
  async status(model?: string): Promise<LineStatus> {
    const lines = this.registry.lineControls;
    return { stops: await lines.activeStops(), quarantines: await lines.quarantined(model) };
  }

  /** stop stops the line for a scope (`all` or an environment). */
  async stop(req: { scope: string; reason: unknown; by: string }): Promise<{ stop: LineStop; changed: boolean }> {
    return this.registry.lineControls.stop(req);
  }

  /** resume lifts a stop, then wakes the releases it held so they carry on without waiting out their recheck timer. */
  async resume(req: { scope: string; reason?: unknown; by: string }): Promise<{ resumed: LineStop; woken: number }> {
    const { resumed } = await this.registry.lineControls.resume(req);
    const held = await this.releases.list({ status: 'line_stopped', limit: 500 });
    let woken = 0;
    for (const r of held) if (await this.wake(r._id)) woken += 1;
    return { resumed, woken };
  }

  /** quarantine marks a registered version so it is never released or rolled back to, and wakes its running release to stop. */
  async quarantine(req: { model: string; version: string; reason: unknown; by: string }): Promise<{ quarantine: Quarantine; changed: boolean; releaseWoken: boolean }> {
    if (typeof req.model === 'string' && typeof req.version === 'string') await this.registry.getVersion(req.model, req.version).catch((err: unknown) => rethrowUnlessInvalid(err));
    const result = await this.registry.lineControls.quarantine(req);
    const releaseWoken = await this.wake(releaseWorkflowId(result.quarantine.model, result.quarantine.version));
    return { ...result, releaseWoken };
  }

  /** unquarantine lifts a quarantine (the version may be released again, through its gates). */
  async unquarantine(req: { model: string; version: string; reason: unknown; by: string }): Promise<{ lifted: Quarantine }> {
    return this.registry.lineControls.unquarantine(req);
  }

  // The signal only asks the release to look again; a release that is not running has nothing to do.
  private async wake(workflowId: string): Promise<boolean> {
    if (!this.deps.temporal) return false;
    try {
      await this.deps.temporal.workflow.getHandle(workflowId).signal(recheckLineSignal);
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}

/** lineEventsTo publishes the registry's line events as release events; the audit key of the change tells one happening from a later one. */
export function lineEventsTo(events: EventPublisher): LineEventPublisher {
  return async (event: LineEvent) => {
    const draft = lineEventDraft(event);
    if (draft) await events.publish([draft]);
  };
}

// Lifting a quarantine is audited but has no event type of its own.
function lineEventDraft(event: LineEvent): EventDraft | null {
  switch (event.type) {
    case 'line.stopped':
      return environmentStopEvent({ env: stopEnv(event.stop.scope), stopped: true, reason: event.stop.reason, by: event.stop.by, at: event.stop.since, key: event.stop.since });
    case 'line.resumed':
      return environmentStopEvent({ env: stopEnv(event.scope), stopped: false, reason: event.reason, by: event.by, at: event.at, key: event.at });
    case 'version.quarantined':
      return versionQuarantinedEvent({ ...event.quarantine, at: event.quarantine.since, key: event.quarantine.since });
    case 'version.unquarantined':
      return null;
  }
}

// The event schema names every environment `*`.
function stopEnv(scope: string): string {
  return scope === ALL_SCOPE ? '*' : scope;
}

// getVersion validates names too; a bad name is reported by the store below with the same field names.
function rethrowUnlessInvalid(err: unknown): void {
  if (err instanceof InvalidInputError) return;
  throw err;
}

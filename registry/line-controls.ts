/**
 * The line's controls as the registry keeps them: active stops (one per
 * scope, `all` or an environment) and quarantined versions. Every change is
 * appended to the audit chain (stops to `_global`, quarantines to the
 * model's), and then announced through `announce`, the one place release
 * events for "stop on/off" and "version quarantined" are published from.
 */
import type { Collection, Db } from 'mongodb';
import { ALL_SCOPE, reasonSchema, scopeLabel, stopScopeSchema, type LineStop, type Quarantine, type StopScope } from '../domain/line-controls';
import { envNameSchema, modelNameSchema, versionSchema } from '../domain/model-version';
import type { AuditLog } from './audit';
import { InvalidInputError, NotFoundError, isDuplicateKey } from './errors';

/** LineEvent is what a change to the line's controls announces (after its audit event is stored). */
export type LineEvent =
  | { type: 'line.stopped'; stop: LineStop }
  | { type: 'line.resumed'; scope: StopScope; by: string; reason: string | null; at: string }
  | { type: 'version.quarantined'; quarantine: Quarantine }
  | { type: 'version.unquarantined'; model: string; version: string; by: string; reason: string; at: string };

/** LineEventPublisher publishes a LineEvent (the release-events publisher plugs in here); failures must not undo the change. */
export type LineEventPublisher = (event: LineEvent) => Promise<void>;

interface StopDoc {
  _id: StopScope;
  reason: string;
  by: string;
  since: Date;
}

interface QuarantineDoc {
  _id: string;
  model: string;
  version: string;
  reason: string;
  by: string;
  since: Date;
}

/** LineControlStore reads and changes stops and quarantines. */
export class LineControlStore {
  private readonly stops: Collection<StopDoc>;
  private readonly quarantines: Collection<QuarantineDoc>;

  constructor(
    db: Db,
    private readonly audit: AuditLog,
    private readonly clock: () => Date = () => new Date(),
    private readonly publish?: LineEventPublisher,
  ) {
    this.stops = db.collection('line_stops');
    this.quarantines = db.collection('quarantines');
  }

  /** activeStops lists every stop in force, `all` first. */
  async activeStops(): Promise<LineStop[]> {
    const docs = await this.stops.find({}).toArray();
    return docs.map(toStop).sort((a, b) => (a.scope === ALL_SCOPE ? -1 : b.scope === ALL_SCOPE ? 1 : a.scope.localeCompare(b.scope)));
  }

  /** stop stops the line for scope; stopping a scope already stopped changes nothing and answers the stop in force. */
  async stop(input: { scope: unknown; reason: unknown; by: string }): Promise<{ stop: LineStop; changed: boolean }> {
    const scope = parse(stopScopeSchema, 'scope', input.scope);
    const reason = parse(reasonSchema, 'reason', input.reason);
    const doc: StopDoc = { _id: scope, reason, by: input.by, since: this.clock() };
    try {
      await this.stops.insertOne(doc);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const current = await this.stops.findOne({ _id: scope });
      if (current) return { stop: toStop(current), changed: false };
      return this.stop(input); // resumed in between: try again
    }
    const stop = toStop(doc);
    await this.audit.append(
      { key: `line.stopped:${scope}:${stop.since}`, actor: input.by, action: 'line.stopped', subject: scope === ALL_SCOPE ? {} : { env: scope }, reason, details: { scope } },
      { fresh: true },
    );
    await this.announce({ type: 'line.stopped', stop });
    return { stop, changed: true };
  }

  /** resume lifts the stop on scope; a scope that is not stopped is not found (nothing is written). */
  async resume(input: { scope: unknown; reason?: unknown; by: string }): Promise<{ resumed: LineStop }> {
    const scope = parse(stopScopeSchema, 'scope', input.scope);
    const reason = input.reason === undefined ? null : parse(reasonSchema, 'reason', input.reason);
    const current = await this.stops.findOne({ _id: scope });
    const hint = async () => {
      const active = (await this.activeStops()).map((s) => s.scope);
      return active.length > 0 ? `stopped now: ${active.join(', ')}` : 'the line is not stopped anywhere';
    };
    if (!current) throw new NotFoundError('line stop', scopeLabel(scope), await hint());
    const { deletedCount } = await this.stops.deleteOne({ _id: scope, since: current.since });
    if (deletedCount === 0) throw new NotFoundError('line stop', scopeLabel(scope), await hint());
    const at = this.clock().toISOString();
    const resumed = toStop(current);
    await this.audit.append(
      { key: `line.resumed:${scope}:${resumed.since}`, actor: input.by, action: 'line.resumed', subject: scope === ALL_SCOPE ? {} : { env: scope }, ...(reason ? { reason } : {}), details: { scope, stoppedBy: resumed.by, stoppedSince: resumed.since, stopReason: resumed.reason } },
      { fresh: true },
    );
    await this.announce({ type: 'line.resumed', scope, by: input.by, reason, at });
    return { resumed };
  }

  /** stopFor is the stop in force for env (its own, else `all`), or null. */
  async stopFor(env: string): Promise<LineStop | null> {
    const e = parse(envNameSchema, 'env', env);
    const docs = await this.stops.find({ _id: { $in: [e, ALL_SCOPE] } }).toArray();
    const own = docs.find((d) => d._id === e) ?? docs.find((d) => d._id === ALL_SCOPE);
    return own ? toStop(own) : null;
  }

  /** quarantine marks model@version so it is never released or rolled back to; quarantining again changes nothing. */
  async quarantine(input: { model: unknown; version: unknown; reason: unknown; by: string }): Promise<{ quarantine: Quarantine; changed: boolean }> {
    const model = parse(modelNameSchema, 'model', input.model);
    const version = parse(versionSchema, 'version', input.version);
    const reason = parse(reasonSchema, 'reason', input.reason);
    const doc: QuarantineDoc = { _id: quarantineId(model, version), model, version, reason, by: input.by, since: this.clock() };
    try {
      await this.quarantines.insertOne(doc);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const current = await this.quarantines.findOne({ _id: doc._id });
      if (current) return { quarantine: toQuarantine(current), changed: false };
      return this.quarantine(input);
    }
    const quarantine = toQuarantine(doc);
    await this.audit.append(
      { key: `version.quarantined:${doc._id}:${quarantine.since}`, actor: input.by, action: 'version.quarantined', subject: { model, version }, reason },
      { fresh: true },
    );
    await this.announce({ type: 'version.quarantined', quarantine });
    return { quarantine, changed: true };
  }

  /** unquarantine lifts a quarantine; a version not quarantined is not found (nothing is written). */
  async unquarantine(input: { model: unknown; version: unknown; reason: unknown; by: string }): Promise<{ lifted: Quarantine }> {
    const model = parse(modelNameSchema, 'model', input.model);
    const version = parse(versionSchema, 'version', input.version);
    const reason = parse(reasonSchema, 'reason', input.reason);
    const current = await this.quarantines.findOne({ _id: quarantineId(model, version) });
    if (!current) throw new NotFoundError('quarantine', `${model}@${version}`, 'it is not quarantined');
    const { deletedCount } = await this.quarantines.deleteOne({ _id: current._id, since: current.since });
    if (deletedCount === 0) throw new NotFoundError('quarantine', `${model}@${version}`, 'it is not quarantined');
    const lifted = toQuarantine(current);
    const at = this.clock().toISOString();
    await this.audit.append(
      { key: `version.unquarantined:${current._id}:${lifted.since}`, actor: input.by, action: 'version.unquarantined', subject: { model, version }, reason, details: { quarantinedBy: lifted.by, quarantinedSince: lifted.since, quarantineReason: lifted.reason } },
      { fresh: true },
    );
    await this.announce({ type: 'version.unquarantined', model, version, by: input.by, reason, at });
    return { lifted };
  }

  /** quarantineOf is model@version's quarantine, or null. */
  async quarantineOf(model: string, version: string): Promise<Quarantine | null> {
    const doc = await this.quarantines.findOne({ _id: quarantineId(parse(modelNameSchema, 'model', model), parse(versionSchema, 'version', version)) });
    return doc ? toQuarantine(doc) : null;
  }

  /** quarantined lists the quarantined versions, of one model or all, newest first. */
  async quarantined(model?: string): Promise<Quarantine[]> {
    const filter = model === undefined ? {} : { model: parse(modelNameSchema, 'model', model) };
    const docs = await this.quarantines.find(filter).toArray();
    return docs.map(toQuarantine).sort((a, b) => b.since.localeCompare(a.since));
  }

  // The one place stop on/off and quarantine events leave Slipway: after the audit event is stored, never before.
  private async announce(event: LineEvent): Promise<void> {
    if (this.publish) await this.publish(event);
  }
}

function quarantineId(model: string, version: string): string {
  return `${model}@${version}`;
}

function toStop(doc: StopDoc): LineStop {
  return { scope: doc._id, reason: doc.reason, by: doc.by, since: doc.since.toISOString() };
}

function toQuarantine(doc: QuarantineDoc): Quarantine {
  return { model: doc.model, version: doc.version, reason: doc.reason, by: doc.by, since: doc.since.toISOString() };
}

function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } }, field: string, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new InvalidInputError([{ field, reason: r.error.issues[0]?.message ?? 'invalid' }]);
  return r.data;
}

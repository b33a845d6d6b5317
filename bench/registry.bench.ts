/**
 * registry benchmark: the Registry class against the raw `mongodb` driver
 * doing the same operation on the same server, collection and indexes.
 *
 * - live-version read: Registry.getLive vs deployments.findOne({model, env},
 *   {sort: {revision: -1}}), in alternating batches so drift hits both alike;
 * - register: Registry.registerVersion vs insertOne of the same document into
 *   a collection with the same indexes, sequentially and 8 at a time, in
 *   ABBA order; plus the raw driver doing the same four I/O steps that
 *   registerVersion does, to separate library overhead from extra I/O.
 */
import { MongoClient, type Db } from 'mongodb';
import { Registry } from '../registry/registry';
import type { Deployment } from '../registry/types';
import { type BenchContext, type BenchReport, type BenchRow, type CommandTally, dbUri, log, monitorCommands, ms, now, rate, ratio, runPool, summarize } from './support';

const ENVS = ['dev', 'staging', 'prod'];
const CONCURRENCY = 8;

interface Plan {
  models: number;
  warmup: number;
  reads: number;
  batch: number;
  seqWrites: number;
  concWrites: number;
  readBudgetMs: number;
  writeBudgetMs: number;
}

const FULL: Plan = { models: 20, warmup: 200, reads: 2000, batch: 50, seqWrites: 300, concWrites: 200, readBudgetMs: 50_000, writeBudgetMs: 10_000 };
const QUICK: Plan = { models: 8, warmup: 100, reads: 400, batch: 50, seqWrites: 60, concWrites: 120, readBudgetMs: 20_000, writeBudgetMs: 8_000 };

/** registryBench measures the registry's live read and registration against the raw driver. */
export async function registryBench(ctx: BenchContext): Promise<BenchReport> {
  const plan = ctx.quick ? QUICK : FULL;
  // Command monitoring counts audit-chain insert attempts; both sides share the client, so both pay for it.
  const client = await new MongoClient(dbUri(ctx.mongodbUri, 'slipway_bench_registry'), { monitorCommands: true }).connect();
  try {
    const db = client.db();
    await db.dropDatabase();
    const registry = new Registry(db);
    await registry.ensureIndexes();
    const rows: BenchRow[] = [];
    const notes: string[] = [];

    const pairs = await seed(registry, plan.models);
    rows.push(...(await measureReads(registry, db, pairs, plan, notes)));
    rows.push(...(await measureRegister(registry, client, plan, notes)));
    const auditEvents = await registry.audit.events.countDocuments();
    const deployments = await registry.deployments.countDocuments();
    notes.unshift(
      `Query plan on this server for a scan-shaped read (findOne({model, env}, sort revision -1) over ${deployments} deployments): ${await planOf(db, 'deployments', { model: pairs[0]![0], env: pairs[0]![1] }, { revision: -1 })}. ` +
        'The registry\'s hot paths read by _id only (FerretDB 1.24 pushes down nothing else).',
    );
    notes.unshift(
      'registerVersion does more than one insert: zod validation and a content hash, the version insert, a `models` upsert, and an audit-chain append ' +
        '(key lookup, head hint and forward probe, the hash-linked event insert keyed by its sequence number, key insert, hint update — all by _id). ' +
        'That is several round trips against one, so "≤ 1.3× the raw driver" cannot hold for register by construction; the "same steps" row compares like with like.',
      `Both sides share one MongoClient (same pool); reads alternate ${plan.batch}-read batches, order swapped every round; writes run the sides in one order, then in reverse (ABBA). ` +
        `The audit chain held ${auditEvents} events at the end.`,
    );
    return { name: 'registry', rows, notes };
  } finally {
    await client.close();
  }
}

// Registers versions and moves live pointers (through the Registry itself) so reads hit real history.
async function seed(registry: Registry, models: number): Promise<[string, string][]> {
  const started = now();
  const pairs: [string, string][] = [];
  for (let m = 0; m < models; m++) {
    const model = `live-${m}`;
    for (const version of ['1.0.0', '1.1.0']) await registry.registerVersion(versionInput(model, version), 'bench');
    for (const env of ENVS) {
      for (const [rev, version] of [[1, '1.0.0'], [2, '1.1.0']] as const) {
        await registry.moveLivePointer({ model, env, version, opKey: `seed:${model}:${env}:${rev}`, by: 'bench', reason: 'seed' });
      }
      pairs.push([model, env]);
    }
  }
  log(`registry: seeded ${models} models x ${ENVS.length} envs in ${((now() - started) / 1000).toFixed(1)}s`);
  return pairs;
}

async function measureReads(registry: Registry, db: Db, pairs: [string, string][], plan: Plan, notes: string[]): Promise<BenchRow[]> {
  const raw = db.collection<Deployment>('deployments');
  const sides = {
    registry: (model: string, env: string) => registry.getLive(model, env),
    raw: (model: string, env: string) => raw.findOne({ model, env }, { sort: { revision: -1 } }),
  };
  // Same answer from both, or the comparison means nothing.
  const [m0, e0] = pairs[0]!;
  const [a, b] = await Promise.all([sides.registry(m0, e0), sides.raw(m0, e0)]);
  if (a?._id !== b?._id || a?.revision !== 2) throw new Error(`getLive and the raw findOne disagree: ${a?._id} vs ${b?._id}`);

  const latencies = { registry: [] as number[], raw: [] as number[] };
  const runBatch = async (side: keyof typeof sides, from: number, count: number, keep: boolean) => {
    for (let j = 0; j < count; j++) {
      const [model, env] = pairs[(from + j) % pairs.length]!;
      const t0 = now();
      await sides[side](model, env);
      if (keep) latencies[side].push(now() - t0);
    }
  };
  for (let w = 0; w < plan.warmup; w += plan.batch) {
    await runBatch('registry', w, plan.batch, false);
    await runBatch('raw', w, plan.batch, false);
  }
  const deadline = now() + plan.readBudgetMs;
  let round = 0;
  while (latencies.registry.length < plan.reads && now() < deadline) {
    const order: (keyof typeof sides)[] = round % 2 === 0 ? ['registry', 'raw'] : ['raw', 'registry'];
    for (const side of order) await runBatch(side, round * plan.batch, plan.batch, true);
    round += 1;
  }
  const reg = summarize(latencies.registry);
  const base = summarize(latencies.raw);
  log(`registry: getLive p50 ${ms(reg.p50)} p99 ${ms(reg.p99)}; raw p50 ${ms(base.p50)} p99 ${ms(base.p99)} (${reg.n} reads each)`);
  if (reg.n < plan.reads) notes.push(`getLive: the time budget stopped reads at ${reg.n} of ${plan.reads} per side.`);
  const what = `getLive(model, env), ${reg.n} reads each`;
  return [
    { bench: 'registry', measure: `${what}: p50 latency`, slipway: ms(reg.p50), baseline: `${ms(base.p50)} (raw findOne)`, ratio: ratio(reg.p50, base.p50), aim: '≤ 1.3×' },
    { bench: 'registry', measure: `${what}: p99 latency`, slipway: ms(reg.p99), baseline: `${ms(base.p99)} (raw findOne)`, ratio: ratio(reg.p99, base.p99), aim: '≤ 1.3×' },
  ];
}

type WriteSide = 'registry' | 'raw' | 'rawSameSteps';

async function measureRegister(registry: Registry, client: MongoClient, plan: Plan, notes: string[]): Promise<BenchRow[]> {
  const db = registry.db;
  const rawVersions = db.collection<Record<string, unknown> & { _id: string }>('bench_raw_versions');
  const same = {
    versions: db.collection<Record<string, unknown> & { _id: string }>('bench_same_versions'),
    models: db.collection<{ _id: string; createdAt?: Date; createdBy?: string }>('bench_same_models'),
    audit: db.collection<{ _id: number; seq: number; hash: string } & Record<string, unknown>>('bench_same_audit'),
    keys: db.collection<{ _id: string; seq: number }>('bench_same_audit_keys'),
    head: db.collection<{ _id: string; seq: number }>('bench_same_audit_head'),
  };
  // The same indexes the registry keeps on model_versions and audit_events.
  for (const c of [rawVersions, same.versions]) {
    await c.createIndex({ model: 1, version: 1 }, { unique: true, name: 'model_version_unique' });
    await c.createIndex({ model: 1, registeredAt: -1 }, { name: 'model_registered' });
  }
  await same.audit.createIndex({ 'subject.model': 1, seq: -1 }, { name: 'model_seq' });

  const counters: Record<WriteSide, number> = { registry: 0, raw: 0, rawSameSteps: 0 };
  const ops: Record<WriteSide, (i: number) => Promise<void>> = {
    registry: async (i) => {
      await registry.registerVersion(versionInput(`reg-${i % 16}`, `2.0.${i}`), 'bench');
    },
    raw: async (i) => {
      await rawVersions.insertOne(rawDoc(`reg-${i % 16}`, `2.0.${i}`));
    },
    // What registerVersion sends to the server, without the library: version insert, model insert,
    // key lookup, head hint and probe, event insert, key insert, hint update — all by _id.
    rawSameSteps: async (i) => {
      const doc = rawDoc(`reg-${i % 16}`, `2.0.${i}`);
      await same.versions.insertOne(doc);
      await same.models.insertOne({ _id: doc.model as string, createdAt: new Date(), createdBy: 'bench' }).catch(() => undefined);
      await same.keys.findOne({ _id: `register:${doc._id}` });
      const hint = await same.head.findOne({ _id: 'head' });
      const seq = (hint?.seq ?? 0) + 1;
      const head = await same.audit.findOne({ _id: seq - 1 });
      await same.audit.findOne({ _id: seq });
      await same.audit.insertOne({
        _id: seq,
        seq,
        prevHash: head?.hash ?? '0'.repeat(64),
        hash: 'f'.repeat(64),
        actor: 'bench',
        action: 'version.registered',
        subject: { model: doc.model, version: doc.version },
        details: { sha256: 'a'.repeat(64), uri: `s3://bench/${doc.model}/${doc.version}.onnx`, contentHash: doc.contentHash },
        at: new Date(),
      });
      await same.keys.insertOne({ _id: `register:${doc._id}`, seq });
      await same.head.updateOne({ _id: 'head' }, { $set: { seq } }, { upsert: true });
    },
  };


  const failures = new Map<string, { count: number; first: string }>();
  const run = async (side: WriteSide, count: number, concurrency: number, appends: CommandTally) => {
    const monitor = side === 'registry' ? monitorCommands(client) : undefined;
    const result = await runPool(count, concurrency, plan.writeBudgetMs, async () => {
      await ops[side](counters[side]++);
      return true;
    }).finally(() => {
      monitor?.stop();
      const inserts = monitor?.tallies.get('insert audit_events');
      if (inserts) {
        appends.count += inserts.count;
        appends.writeErrors += inserts.writeErrors;
      }
    });
    if (result.failed > 0) {
      const f = failures.get(side) ?? { count: 0, first: result.errors[0] ?? '' };
      failures.set(side, { ...f, count: f.count + result.failed });
    }
    if (result.succeeded === 0) throw new Error(`${side} register never succeeded: ${result.errors.join('; ')}`);
    return result;
  };

  const rows: BenchRow[] = [];
  const modes = [
    { label: 'sequential', concurrency: 1, count: plan.seqWrites, sides: ['raw', 'rawSameSteps', 'registry'] as WriteSide[] },
    { label: `concurrency ${CONCURRENCY}`, concurrency: CONCURRENCY, count: plan.concWrites, sides: ['raw', 'registry'] as WriteSide[] },
  ];
  for (const mode of modes) {
    const totals = new Map<WriteSide, { done: number; elapsedMs: number }>();
    const appends: CommandTally = { count: 0, totalMs: 0, writeErrors: 0 };
    // ABBA: half the count in each order, so neither side always runs on a fresher database.
    for (const order of [mode.sides, [...mode.sides].reverse()]) {
      for (const side of order) {
        const r = await run(side, Math.ceil(mode.count / 2), mode.concurrency, appends);
        const t = totals.get(side) ?? { done: 0, elapsedMs: 0 };
        totals.set(side, { done: t.done + r.succeeded, elapsedMs: t.elapsedMs + r.elapsedMs });
        if (r.outOfTime) notes.push(`register ${mode.label} (${side}): the time budget stopped a round at ${r.succeeded} versions.`);
      }
    }
    const perSec = (side: WriteSide) => {
      const t = totals.get(side)!;
      return t.done / (t.elapsedMs / 1000);
    };
    const reg = perSec('registry');
    const raw = perSec('raw');
    log(`registry: register ${mode.label}: ${reg.toFixed(0)}/s vs raw insertOne ${raw.toFixed(0)}/s`);
    const n = totals.get('registry')!.done;
    notes.push(
      `register ${mode.label}: ${n} registrations made ${appends.count} audit-event inserts, ${appends.writeErrors} of which lost the race for the next seq ` +
        `(${(appends.count / Math.max(1, n)).toFixed(2)} attempts per registration).`,
    );
    rows.push({
      bench: 'registry',
      measure: `registerVersion ${mode.label}, ${n} versions (ratio = time per version, registry ÷ raw)`,
      slipway: rate(reg, 'versions/s'),
      baseline: `${rate(raw, 'versions/s')} (raw insertOne)`,
      ratio: ratio(raw, reg),
      aim: '≤ 1.3×',
    });
    if (totals.has('rawSameSteps')) {
      const sameRate = perSec('rawSameSteps');
      rows.push({
        bench: 'registry',
        measure: `registerVersion ${mode.label} vs the raw driver doing the same steps (ratio = time per version)`,
        slipway: rate(reg, 'versions/s'),
        baseline: `${rate(sameRate, 'versions/s')} (raw, same steps)`,
        ratio: ratio(sameRate, reg),
        aim: '—',
      });
    }
  }
  for (const [side, f] of failures) {
    notes.push(`register (${side}): ${f.count} calls failed and are left out of the rates; first error: ${f.first}`);
  }
  return rows;
}

// What the server does with a query: FerretDB reports pushdowns, mongod its winning plan.
async function planOf(db: Db, collection: string, filter: Record<string, unknown>, sort: Record<string, 1 | -1>): Promise<string> {
  try {
    const ex = await db.command({ explain: { find: collection, filter, sort, limit: 1 }, verbosity: 'queryPlanner' });
    if ('sortPushdown' in ex) {
      return `FerretDB plan ${JSON.stringify(ex.queryPlanner?.Plan ?? [])}, filter pushdown ${String(ex.filterPushdown)}, sort pushdown ${String(ex.sortPushdown)}`;
    }
    const stages: string[] = [];
    // MongoDB 7 with the slot-based engine nests the tree under queryPlan.
    for (let node = ex.queryPlanner?.winningPlan?.queryPlan ?? ex.queryPlanner?.winningPlan; node && stages.length < 10; node = node.inputStage) {
      stages.push(node.indexName ? `${node.stage}(${node.indexName})` : String(node.stage));
    }
    return `plan ${stages.join(' ← ')}`;
  } catch (err) {
    return `explain failed (${err instanceof Error ? err.message : String(err)})`;
  }
}

function versionInput(model: string, version: string) {
  return {
    model,
    version,
    artifact: { uri: `s3://bench/${model}/${version}.onnx`, sha256: 'a'.repeat(64) },
    metrics: { accuracy: 0.93, latency_p99_ms: 120 },
    codeCommit: 'b3nchc0mmit',
  };
}

// The document registerVersion stores, built without validation or hashing.
function rawDoc(model: string, version: string): Record<string, unknown> & { _id: string } {
  return {
    _id: `${model}@${version}`,
    ...versionInput(model, version),
    tags: {},
    registeredBy: 'bench',
    registeredAt: new Date(),
    contentHash: 'c'.repeat(64),
  };
}

/**
 * parked benchmark: worker memory per release parked waiting for approval.
 * For each worker cache setting (maxCachedWorkflows 2000, then 100; separate
 * workers, task queues and registry databases, one after the other) it starts
 * N releases of a one-stage pipeline whose stage waits for approval, waits
 * until the registry shows all of them awaiting_approval, and reports this
 * process's heap used and RSS growth per parked release. The baseline is the
 * same process just before the releases start.
 *
 * With all N parked it then times `status` queries on randomly chosen parked
 * releases (most of them evicted from a small cache, so answered by replay),
 * beside the same query on N bare workflows parked on a bare worker with the
 * same cache setting.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { ReleaseService } from '../client/releases';
import { createSlipwayWorker } from '../workers/worker';
import { bareApprovalWorkflow, bareStatusQuery } from './bare-workflow';
import { stopWorker } from './rig';
import { type BenchContext, type BenchReport, type BenchRow, type Stats, dbUri, kib, log, mib, ms, now, pollUntil, ratio, runPool, summarize, terminateWorkflows, withTimeout } from './support';

const NAMESPACE = 'default';
const VERSION = '1.0.0';
const REQUESTER = 'bench-ci';
const APPROVER = 'alice';
const PIPELINE = 'park';
const PIPELINE_YAML = `name: ${PIPELINE}\nstages:\n  - env: prod\n    approval: { required: 1, approvers: [${APPROVER}], timeout: 24h }\n`;
const CACHE_SIZES = [2000, 100];
const FULL_COUNT = 1000;
const QUICK_COUNT = 200;
const QUERIES = 500;
// Parking as many bare workflows for the query baseline takes long past this; bigger runs report Slipway's figure alone.
const MAX_BARE_BASELINE = 2000;

// --expose-gc cannot be passed through `npm run bench`, so turn it on here; a full collection
// before each reading keeps garbage out of the figures.
function findGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

interface Reading {
  heapUsed: number;
  rss: number;
}

async function readMemory(gc: (() => void) | undefined): Promise<Reading> {
  if (gc) {
    gc();
    await sleep(200);
    gc();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}


/** parkedBench measures worker memory per release parked awaiting approval, with a large and a small workflow cache. */
export async function parkedBench(ctx: BenchContext): Promise<BenchReport> {
  const count = ctx.parked ?? (ctx.quick ? QUICK_COUNT : FULL_COUNT);
  const cacheSizes = ctx.cache !== undefined ? [ctx.cache] : CACHE_SIZES;
  const gc = findGc();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const results: { cache: number; perHeap: number; perRss: number }[] = [];
  const closers: { what: string; close: () => Promise<unknown> }[] = [];
  try {
    const pipelinesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-bench-pipelines-'));
    closers.push({ what: 'pipelines folder', close: () => fs.rm(pipelinesDir, { recursive: true, force: true }) });
    await fs.writeFile(path.join(pipelinesDir, `${PIPELINE}.yaml`), PIPELINE_YAML);
    const connection = await Connection.connect({ address: ctx.temporalAddress });
    closers.push({ what: 'Temporal client connection', close: () => connection.close() });
    const client = new Client({ connection, namespace: NAMESPACE });

    for (const cache of cacheSizes) {
      try {
        const r = await measureCache(ctx, client, pipelinesDir, cache, count, gc, notes);
        results.push({ cache, ...r });
        rows.push({
          bench: 'parked',
          measure: `worker memory per release parked awaiting approval, ${count} parked, maxCachedWorkflows ${cache}: heap used (RSS)`,
          slipway: `${kib(r.perHeap)} (${kib(r.perRss)})`,
          baseline: `${mib(r.before.heapUsed)} heap, ${mib(r.before.rss)} RSS before; ${mib(r.after.heapUsed)}, ${mib(r.after.rss)} after`,
          ratio: '',
          aim: '—',
        });
        if (r.queries) {
          const { slipway: q, bare: b } = r.queries;
          rows.push({
            bench: 'parked',
            measure: `status query, ${count} releases in flight (parked), maxCachedWorkflows ${cache}, ${q.n} queries on random releases: p50 / p99`,
            slipway: `${ms(q.p50)} / ${ms(q.p99)}`,
            baseline: b ? `${ms(b.p50)} / ${ms(b.p99)} (bare query, ${count} bare workflows parked)` : `not measured above ${MAX_BARE_BASELINE} parked`,
            ratio: b ? `${ratio(q.p50, b.p50)} / ${ratio(q.p99, b.p99)}` : '',
            aim: '—',
          });
        }
        if (r.curve.length > 1) {
          rows.push({
            bench: 'parked',
            measure: `RSS growth as releases park, maxCachedWorkflows ${cache} (parked: growth, per parked release)`,
            slipway: r.curve.map((p) => `${p.parked}: ${mib(p.rss - r.before.rss)}, ${kib((p.rss - r.before.rss) / p.parked)}`).join(' · '),
            baseline: `${mib(r.before.rss)} RSS before the first start`,
            ratio: '',
            aim: 'flat once the cache is full',
          });
        }
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`parked: cache ${cache} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
        rows.push({ bench: 'parked', measure: `maxCachedWorkflows ${cache}: did not finish`, slipway: `failed: ${message.split('\n')[0]!.slice(0, 300)}`, baseline: '', ratio: '', aim: '' });
      }
    }
    const big = results.find((r) => r.cache === CACHE_SIZES[0]);
    const small = results.find((r) => r.cache === CACHE_SIZES[1]);
    if (big && small) {
      const r = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : 'n/a');
      rows.push({
        bench: 'parked',
        measure: `memory per parked release, maxCachedWorkflows ${CACHE_SIZES[1]} ÷ ${CACHE_SIZES[0]}: heap used (RSS)`,
        slipway: `${kib(small.perHeap)} (${kib(small.perRss)})`,
        baseline: `${kib(big.perHeap)} (${kib(big.perRss)}) (cache ${CACHE_SIZES[0]})`,
        ratio: `${r(small.perHeap, big.perHeap)} (${r(small.perRss, big.perRss)})`,
        aim: 'small cache ≪ 1',
      });
    }
    notes.push(
      `Each run starts ${count} releases (own model each) of a one-stage pipeline whose prod stage waits for approval, on a fresh worker, task queue and registry database, ` +
        `and waits until the registry's releases collection counts all of them (and one warm-up) awaiting_approval. Memory is this process's process.memoryUsage() just before the starts and after all are parked, ` +
        `${gc ? 'each after a full garbage collection' : 'without a forced garbage collection (gc was not available)'}; the figure is the growth divided by ${count}.`,
      `The worker runs in the bench process, so the readings include the Temporal client's and registry client's share. heapUsed is the main thread's V8 heap only: ` +
        `the SDK runs workflow code in worker threads whose heaps show only in RSS, so RSS is the figure that counts cached workflows; RSS also keeps memory the allocator has not returned.`,
      `Each release holds its (model, prod) lease as a registry document, not a workflow (no other release waits for it), so a parked release is one workflow; with the cache smaller than the number parked, workflows are evicted and replayed when they next get a task or query.`,
      `Status queries: ${QUERIES} sequential ReleaseService.status calls (a Temporal query, falling back to the registry only for ended releases) on releases drawn at random with a fixed seed, then the same query on as many bare workflows parked the same way, drawn in the same order; with a cache smaller than the number parked most queries are answered by replaying the workflow.`,
      `After each run its releases and bare workflows are terminated. The runs go one after the other in one process, so the second starts from a higher RSS (memory the allocator kept); its figure is still growth from its own starting point.`,
    );
    return { name: 'parked', rows, notes };
  } finally {
    for (const closer of closers.reverse()) {
      await withTimeout(closer.close(), 60_000, `closing ${closer.what}`).catch((err: unknown) => log(`parked: closing ${closer.what} failed: ${String(err)}`));
    }
  }
}

async function measureCache(
  ctx: BenchContext,
  client: Client,
  pipelinesDir: string,
  cache: number,
  count: number,
  gc: (() => void) | undefined,
  notes: string[],
): Promise<{ perHeap: number; perRss: number; before: Reading; after: Reading; queries: { slipway: Stats; bare: Stats | null } | null; curve: { parked: number; rss: number }[] }> {
  const taskQueue = `slipway-bench-parked-${cache}`;
  const closers: { what: string; close: () => Promise<unknown> }[] = [];
  try {
    const mongo = await new MongoClient(dbUri(ctx.mongodbUri, `slipway_bench_parked_${cache}`)).connect();
    closers.push({ what: 'MongoDB client', close: () => mongo.close() });
    const db = mongo.db();
    await db.dropDatabase();
    const service = new ReleaseService({ temporal: client, db, taskQueue, pipelinesDir, bootstrapFromFolder: true });

    const models = Array.from({ length: count }, (_, i) => `park-${cache}-${i}`);
    const all = [`park-${cache}-warmup`, ...models];
    let t0 = now();
    const registered = await runPool(all.length, 16, 600_000, async (i) => {
      const model = all[i]!;
      await service.registry.registerVersion({ model, version: VERSION, artifact: { uri: `s3://bench/${model}.onnx`, sha256: 'd'.repeat(64) } }, 'bench');
      return true;
    });
    if (registered.failed > 0 || registered.succeeded < all.length) throw new Error(`registering bench models failed: ${registered.errors.join('; ') || 'out of time'}`);
    log(`parked: cache ${cache}: registered ${registered.succeeded} model versions in ${((now() - t0) / 1000).toFixed(1)}s`);

    const slipway = await createSlipwayWorker({
      temporalAddress: ctx.temporalAddress,
      namespace: NAMESPACE,
      taskQueue,
      db,
      tuning: { maxCachedWorkflows: cache, maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentActivityTaskExecutions: 200 },
    });
    closers.push({ what: 'Slipway worker connections', close: () => slipway.close() });
    const run = slipway.worker.run().catch((err: unknown) => log(`parked: worker stopped with an error: ${String(err)}`));
    closers.push({ what: 'Slipway worker', close: () => stopWorker(slipway.worker, run) });
    // Runs before the worker stops (closers run newest first).
    closers.push({
      what: 'parked workflows',
      close: async () => {
        const r = await terminateWorkflows(client, `TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`, 'benchmark finished');
        log(`parked: cache ${cache}: terminated ${r.terminated} releases${r.failed > 0 ? ` (${r.failed} had already ended)` : ''}`);
      },
    });

    const releases = db.collection('releases');
    const parked = () => releases.countDocuments({ status: 'awaiting_approval' });
    // Warm-up: the workflow bundle, connections and caches are loaded before the first reading.
    await service.start({ model: all[0]!, version: VERSION, pipeline: PIPELINE, requestedBy: REQUESTER });
    const warm = await pollUntil(async () => ((await parked()) >= 1 ? true : undefined), 200, 60_000);
    if (!warm) throw new Error('the warm-up release did not reach awaiting_approval within 60s');

    const before = await readMemory(gc);
    log(`parked: cache ${cache}: before: heap ${mib(before.heapUsed)}, RSS ${mib(before.rss)}; starting ${count} releases`);
    t0 = now();
    const releaseIds: string[] = [];
    // Memory at each tenth of the way, to show whether it grows with the number parked.
    const curve: { parked: number; rss: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      let next = 1;
      while (sampling && next <= 10) {
        await sleep(count > 2000 ? 5_000 : 1_000);
        const n = (await parked()) - 1;
        if (n >= (count * next) / 10) {
          curve.push({ parked: n, rss: (await readMemory(gc)).rss });
          while (next <= 10 && n >= (count * next) / 10) next += 1;
        }
      }
    })();
    const started = await runPool(count, 20, 60_000 + count * 100, async (i) => {
      releaseIds[i] = (await service.start({ model: models[i]!, version: VERSION, pipeline: PIPELINE, requestedBy: REQUESTER })).releaseId;
      return true;
    });
    if (started.failed > 0 || started.succeeded < count) throw new Error(`starting releases: ${started.succeeded} of ${count} started (${started.errors.join('; ') || 'out of time'})`);
    const startSeconds = (now() - t0) / 1000;
    let last = 0;
    const allParked = await pollUntil(
      async () => {
        last = await parked();
        return last >= count + 1 ? true : undefined;
      },
      1_000,
      // About 7 releases/s reach the approval wait on 2 cores; leave room for slower machines.
      120_000 + count * 500,
    );
    sampling = false;
    await sampler;
    if (!allParked) throw new Error(`only ${last - 1} of ${count} releases reached awaiting_approval in time`);
    const parkSeconds = (now() - t0) / 1000;
    const after = await readMemory(gc);
    log(`parked: cache ${cache}: ${count} parked in ${parkSeconds.toFixed(1)}s (starts took ${startSeconds.toFixed(1)}s); after: heap ${mib(after.heapUsed)}, RSS ${mib(after.rss)}`);
    notes.push(`maxCachedWorkflows ${cache}: ${count} releases started in ${startSeconds.toFixed(1)}s and all awaiting approval ${parkSeconds.toFixed(1)}s after the first start.`);
    let queries: { slipway: Stats; bare: Stats | null } | null = null;
    try {
      queries = await measureQueries(ctx, client, service, releaseIds, cache, `${taskQueue}-bare`, closers);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`parked: cache ${cache}: status queries failed: ${message}`);
      notes.push(`maxCachedWorkflows ${cache}: the status query measurement did not finish: ${message.split('\n')[0]!.slice(0, 300)}`);
    }
    return { perHeap: (after.heapUsed - before.heapUsed) / count, perRss: (after.rss - before.rss) / count, before, after, queries, curve };
  } finally {
    for (const closer of closers.reverse()) {
      await withTimeout(closer.close(), 300_000, `closing ${closer.what}`).catch((err: unknown) => log(`parked: closing ${closer.what} failed: ${String(err)}`));
    }
  }
}

/**
 * measureQueries times ReleaseService.status on random parked releases, then
 * parks as many bare workflows on a bare worker with the same cache and times
 * the same query on them (Slipway first: the bare worker's memory must not
 * enter the readings above).
 */
async function measureQueries(
  ctx: BenchContext,
  client: Client,
  service: ReleaseService,
  releaseIds: string[],
  cache: number,
  bareTaskQueue: string,
  closers: { what: string; close: () => Promise<unknown> }[],
): Promise<{ slipway: Stats; bare: Stats | null }> {
  const count = releaseIds.length;
  const picks = randomPicks(QUERIES, count);
  const slipway: number[] = [];
  for (const i of picks) {
    const t = now();
    const state = await service.status(releaseIds[i]!);
    slipway.push(now() - t);
    if (state.status !== 'awaiting_approval') throw new Error(`${releaseIds[i]} is ${state.status}, not awaiting_approval`);
  }
  log(`parked: cache ${cache}: status query over ${count} parked releases p50 ${ms(summarize(slipway).p50)} p99 ${ms(summarize(slipway).p99)}`);
  if (count > MAX_BARE_BASELINE) return { slipway: summarize(slipway), bare: null };
  log(`parked: cache ${cache}: parking ${count} bare workflows for the query baseline`);

  const connection = await NativeConnection.connect({ address: ctx.temporalAddress });
  closers.push({ what: 'bare worker connection', close: () => connection.close() });
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue: bareTaskQueue,
    workflowsPath: require.resolve('./bare-workflow'),
    activities: { async noop() {}, async markDeployed() {} },
    maxCachedWorkflows: cache,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  const run = worker.run().catch((err: unknown) => log(`parked: bare worker stopped with an error: ${String(err)}`));
  closers.push({ what: 'bare worker', close: () => stopWorker(worker, run) });
  closers.push({
    what: 'parked bare workflows',
    close: async () => {
      const r = await terminateWorkflows(client, `TaskQueue = "${bareTaskQueue}" AND ExecutionStatus = "Running"`, 'benchmark finished');
      log(`parked: cache ${cache}: terminated ${r.terminated} bare workflows`);
    },
  });
  const bareIds = releaseIds.map((_, i) => `parked-bare-${cache}-${i}`);
  const started = await runPool(count, 20, 60_000 + count * 100, async (i) => {
    await client.workflow.start(bareApprovalWorkflow, { taskQueue: bareTaskQueue, workflowId: bareIds[i]!, args: [] });
    return true;
  });
  if (started.succeeded < count) throw new Error(`starting bare workflows: ${started.succeeded} of ${count} started (${started.errors.join('; ') || 'out of time'})`);
  // Each answers once, so every bare workflow has run its first task and sits waiting, as the releases do.
  const answered = await runPool(count, 20, 60_000 + count * 100, async (i) => {
    await client.workflow.getHandle(bareIds[i]!).query(bareStatusQuery);
    return true;
  });
  if (answered.succeeded < count) throw new Error(`bare workflows answering: ${answered.succeeded} of ${count}`);
  const bare: number[] = [];
  for (const i of picks) {
    const t = now();
    await client.workflow.getHandle(bareIds[i]!).query(bareStatusQuery);
    bare.push(now() - t);
  }
  return { slipway: summarize(slipway), bare: summarize(bare) };
}

/** randomPicks draws n indexes below size from a fixed-seed generator, so runs are comparable. */
function randomPicks(n: number, size: number): number[] {
  let seed = 0x2f6b1d;
  return Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % size;
  });
}

/**
 * release benchmark: whole releases on the real worker against bare Temporal
 * workflows doing the same number of activity round trips.
 *
 * - throughput: a 3-stage pipeline with no gates, bake or approval, K
 *   releases with 50 in flight, vs bareReleaseWorkflow running as many no-op
 *   activities as one real release schedules (counted from its history);
 * - approval latency: approve signal sent → the stage's deploy move recorded,
 *   vs a bare workflow's signal → activity started;
 * - status query latency against releases waiting for approval, vs the same
 *   query against waiting bare workflows.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { ReleaseService } from '../client/releases';
import { createSlipwayWorker, type SlipwayWorkerOptions } from '../workers/worker';
import { approveSignal, releaseWorkflowId, type ReleaseState } from '../workflows/release.api';
import { bareApprovalWorkflow, bareApproveSignal, bareReleaseWorkflow, bareStatusQuery, type BareActivities } from './bare-workflow';
import { type BenchContext, type BenchReport, type BenchRow, dbUri, log, ms, now, pollUntil, rate, ratio, runPool, summarize, withTimeout } from './support';

const NAMESPACE = 'default';
const TASK_QUEUE = 'slipway-bench';
const BARE_TASK_QUEUE = 'slipway-bench-bare';
const IN_FLIGHT = 50;
const VERSION = '1.0.0';
const REQUESTER = 'bench-ci';
const APPROVER = 'alice';
// One tuning for both workers, so the comparison is of the workflows, not the workers.
const TUNING: NonNullable<SlipwayWorkerOptions['tuning']> = {
  maxCachedWorkflows: 1000,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
};

const PIPELINES = {
  instant: 'name: instant\nstages:\n  - env: dev\n  - env: staging\n  - env: prod\n',
  'approve-prod': `name: approve-prod\nstages:\n  - env: prod\n    approval: { required: 1, approvers: [${APPROVER}], timeout: 1h }\n`,
};

interface Plan {
  releases: number;
  approvals: number;
  queries: number;
  throughputBudgetMs: number;
  releaseTimeoutMs: number;
}

const FULL: Plan = { releases: 100, approvals: 30, queries: 600, throughputBudgetMs: 120_000, releaseTimeoutMs: 60_000 };
const QUICK: Plan = { releases: 20, approvals: 10, queries: 150, throughputBudgetMs: 45_000, releaseTimeoutMs: 30_000 };

/** releaseBench measures release throughput, approval latency and status query latency against bare Temporal workflows. */
export async function releaseBench(ctx: BenchContext): Promise<BenchReport> {
  const plan = ctx.quick ? QUICK : FULL;
  const closers: { what: string; close: () => Promise<unknown> }[] = [];
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const mongo = await new MongoClient(dbUri(ctx.mongodbUri, 'slipway_bench_release')).connect();
    closers.push({ what: 'MongoDB client', close: () => mongo.close() });
    const db = mongo.db();
    await db.dropDatabase();

    const pipelinesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-bench-pipelines-'));
    closers.push({ what: 'pipelines folder', close: () => fs.rm(pipelinesDir, { recursive: true, force: true }) });
    for (const [name, yaml] of Object.entries(PIPELINES)) await fs.writeFile(path.join(pipelinesDir, `${name}.yaml`), yaml);

    let t0 = now();
    const slipway = await createSlipwayWorker({ temporalAddress: ctx.temporalAddress, namespace: NAMESPACE, taskQueue: TASK_QUEUE, db, tuning: TUNING });
    closers.push({ what: 'Slipway worker connections', close: () => slipway.close() });
    const slipwayRun = slipway.worker.run().catch((err: unknown) => log(`release: Slipway worker stopped with an error: ${String(err)}`));
    closers.push({ what: 'Slipway worker', close: () => stopWorker(slipway.worker, slipwayRun) });
    log(`release: Slipway worker ready in ${((now() - t0) / 1000).toFixed(1)}s`);

    t0 = now();
    const deployedAt = new Map<string, number>();
    const bareActivities: BareActivities = {
      async noop() {},
      async markDeployed(workflowId) {
        deployedAt.set(workflowId, Date.now());
      },
    };
    const bareConnection = await NativeConnection.connect({ address: ctx.temporalAddress });
    closers.push({ what: 'bare worker connection', close: () => bareConnection.close() });
    const bareWorker = await Worker.create({
      connection: bareConnection,
      namespace: NAMESPACE,
      taskQueue: BARE_TASK_QUEUE,
      workflowsPath: require.resolve('./bare-workflow'),
      activities: bareActivities,
      ...TUNING,
    });
    const bareRun = bareWorker.run().catch((err: unknown) => log(`release: bare worker stopped with an error: ${String(err)}`));
    closers.push({ what: 'bare worker', close: () => stopWorker(bareWorker, bareRun) });
    log(`release: bare worker ready in ${((now() - t0) / 1000).toFixed(1)}s`);

    const connection = await Connection.connect({ address: ctx.temporalAddress });
    closers.push({ what: 'Temporal client connection', close: () => connection.close() });
    const client = new Client({ connection, namespace: NAMESPACE });
    // Runs before the workers stop (closers run newest first): nothing is left open on the server.
    closers.push({ what: 'open workflows', close: () => terminateOpenWorkflows(client) });
    const service = new ReleaseService({ temporal: client, db, taskQueue: TASK_QUEUE, pipelinesDir });

    // Fresh models, one per release: locks are per (model, env), so releases of one model would queue.
    const throughputModels = Array.from({ length: plan.releases }, (_, i) => `tput-${i}`);
    const approvalModels = Array.from({ length: plan.approvals }, (_, i) => `appr-${i}`);
    t0 = now();
    const registered = await runPool(plan.releases + plan.approvals + 1, 4, 120_000, async (i) => {
      const model = i === 0 ? 'warmup' : i <= plan.releases ? throughputModels[i - 1]! : approvalModels[i - 1 - plan.releases]!;
      await service.registry.registerVersion({ model, version: VERSION, artifact: { uri: `s3://bench/${model}.onnx`, sha256: 'b'.repeat(64) } }, 'bench');
      return true;
    });
    if (registered.failed > 0) throw new Error(`registering bench models failed: ${registered.errors.join('; ')}`);
    log(`release: registered ${registered.succeeded} model versions in ${((now() - t0) / 1000).toFixed(1)}s`);

    // Warm-up: one of each, and the real release's history says how many activities a release schedules.
    const warm = await service.start({ model: 'warmup', version: VERSION, pipeline: 'instant', requestedBy: REQUESTER });
    const warmState = await withTimeout(service.result(warm.releaseId), plan.releaseTimeoutMs, 'warm-up release');
    if (warmState.status !== 'succeeded') throw new Error(`warm-up release ended ${warmState.status}: ${warmState.summary}`);
    const history = await client.workflow.getHandle(warm.workflowId).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? '?'] : []));
    const activityCount = scheduled.length;
    const byType = [...countBy(scheduled)].map(([name, n]) => `${name} ×${n}`).join(', ');
    log(`release: one release schedules ${activityCount} activities (${byType})`);
    await withTimeout(client.workflow.execute(bareReleaseWorkflow, { taskQueue: BARE_TASK_QUEUE, workflowId: 'bare-warmup', args: [activityCount] }), plan.releaseTimeoutMs, 'warm-up bare workflow');

    rows.push(...(await measureThroughput(client, service, plan, activityCount, throughputModels, notes)));
    rows.push(...(await measureApprovals(client, service, plan, approvalModels, deployedAt, notes)));

    notes.push(
      `Each release uses its own model, because the environment lock is one per (model, env): releases of one model would queue behind each other by design.`,
      `One release of the 3-stage pipeline schedules ${activityCount} activities (${byType}), counted from a real release's history; the bare workflow runs that many no-op activities in sequence. ` +
        `A release also starts three lock workflows and exchanges grant/release signals with them, which the baseline does not.`,
      `Both workers run in this process with the same tuning (maxCachedWorkflows ${TUNING.maxCachedWorkflows}, maxConcurrentWorkflowTaskExecutions ${TUNING.maxConcurrentWorkflowTaskExecutions}, maxConcurrentActivityTaskExecutions ${TUNING.maxConcurrentActivityTaskExecutions}); ` +
        `the baseline runs first. Releases start through ReleaseService.start, as the CLI and API do; bare workflows through client.workflow.start.`,
    );
    return { name: 'release', rows, notes };
  } finally {
    for (const closer of closers.reverse()) {
      await withTimeout(closer.close(), 60_000, `closing ${closer.what}`).catch((err: unknown) => log(`release: closing ${closer.what} failed: ${String(err)}`));
    }
  }
}

async function measureThroughput(client: Client, service: ReleaseService, plan: Plan, activityCount: number, models: string[], notes: string[]): Promise<BenchRow[]> {
  const bareDurations: number[] = [];
  log(`release: baseline, ${plan.releases} bare workflows of ${activityCount} activities, ${IN_FLIGHT} in flight`);
  const bare = await runPool(plan.releases, IN_FLIGHT, plan.throughputBudgetMs, async (i) => {
    const t = now();
    await withTimeout(
      client.workflow.execute(bareReleaseWorkflow, { taskQueue: BARE_TASK_QUEUE, workflowId: `bare-tput-${i}`, args: [activityCount] }),
      plan.releaseTimeoutMs,
      `bare workflow ${i}`,
    );
    bareDurations.push(now() - t);
    return true;
  });
  const releaseDurations: number[] = [];
  log(`release: Slipway, ${plan.releases} releases, ${IN_FLIGHT} in flight`);
  const releases = await runPool(plan.releases, IN_FLIGHT, plan.throughputBudgetMs, async (i) => {
    const t = now();
    const started = await service.start({ model: models[i]!, version: VERSION, pipeline: 'instant', requestedBy: REQUESTER });
    const state = await withTimeout(service.result(started.releaseId), plan.releaseTimeoutMs, `release ${started.releaseId}`);
    if (state.status !== 'succeeded') throw new Error(`${started.releaseId} ended ${state.status}: ${state.summary}`);
    releaseDurations.push(now() - t);
    return true;
  });
  for (const [what, r] of [['bare workflows', bare], ['releases', releases]] as const) {
    if (r.failed > 0) notes.push(`${r.failed} ${what} failed or timed out (first errors: ${r.errors.join('; ')}).`);
    if (r.outOfTime) notes.push(`The ${plan.throughputBudgetMs / 1000}s budget stopped new ${what} after ${r.started} of ${plan.releases}.`);
  }
  const perMinute = (r: typeof bare) => r.succeeded / (r.elapsedMs / 60_000);
  const slipwayRate = perMinute(releases);
  const bareRate = perMinute(bare);
  log(`release: ${slipwayRate.toFixed(0)} releases/min vs ${bareRate.toFixed(0)} bare workflows/min`);
  const relD = summarize(releaseDurations);
  const bareD = summarize(bareDurations);
  return [
    {
      bench: 'release',
      measure: `throughput, 3 stages (instant gates, zero bake), ${releases.succeeded} releases, ${IN_FLIGHT} in flight (ratio = Slipway ÷ bare rate)`,
      slipway: rate(slipwayRate, 'releases/min'),
      baseline: `${rate(bareRate, 'workflows/min')} (bare, ${activityCount} no-op activities)`,
      ratio: ratio(slipwayRate, bareRate),
      aim: '≥ 0.7',
    },
    {
      bench: 'release',
      measure: `start → result of one release under that load, p50`,
      slipway: ms(relD.p50),
      baseline: `${ms(bareD.p50)} (bare)`,
      ratio: ratio(relD.p50, bareD.p50),
      aim: '—',
    },
  ];
}

async function measureApprovals(
  client: Client,
  service: ReleaseService,
  plan: Plan,
  models: string[],
  deployedAt: Map<string, number>,
  notes: string[],
): Promise<BenchRow[]> {
  log(`release: ${models.length} releases waiting for approval, and as many bare workflows waiting for a signal`);
  const started = await runPool(models.length, 10, 60_000, async (i) => {
    await service.start({ model: models[i]!, version: VERSION, pipeline: 'approve-prod', requestedBy: REQUESTER });
    return true;
  });
  if (started.failed > 0) throw new Error(`starting approval releases failed: ${started.errors.join('; ')}`);
  const releaseIds = models.map((m) => releaseWorkflowId(m, VERSION));
  const bareIds = models.map((_, i) => `bare-approval-${i}`);
  for (const workflowId of bareIds) await client.workflow.start(bareApprovalWorkflow, { taskQueue: BARE_TASK_QUEUE, workflowId });

  const awaiting = (s: ReleaseState) => s.stages[0]?.status === 'awaiting_approval';
  for (const id of releaseIds) {
    const state = await pollUntil(async () => {
      const s = await service.status(id).catch(() => undefined);
      return s && awaiting(s) ? s : undefined;
    }, 100, 60_000);
    if (!state) throw new Error(`${id} did not reach awaiting_approval within 60s`);
  }
  // A query answered once means the bare workflow has run its first task and is waiting.
  for (const id of bareIds) await client.workflow.getHandle(id).query(bareStatusQuery);

  // Status query latency: alternate batches, spread over every waiting workflow.
  const queryLatency = { slipway: [] as number[], bare: [] as number[] };
  const batch = 50;
  for (let k = 0, round = 0; queryLatency.slipway.length < plan.queries; k += batch, round++) {
    const order = round % 2 === 0 ? (['slipway', 'bare'] as const) : (['bare', 'slipway'] as const);
    for (const side of order) {
      for (let j = 0; j < batch; j++) {
        const i = (k + j) % models.length;
        const t = now();
        if (side === 'slipway') {
          const s = await service.status(releaseIds[i]!);
          if (!awaiting(s)) throw new Error(`${releaseIds[i]} left awaiting_approval during the query benchmark`);
        } else {
          await client.workflow.getHandle(bareIds[i]!).query(bareStatusQuery);
        }
        queryLatency[side].push(now() - t);
      }
    }
  }

  // Approval latency, one at a time so each is measured without queueing behind the others.
  const approvalLatency = { slipway: [] as number[], bare: [] as number[] };
  let missed = 0;
  for (let i = 0; i < models.length; i++) {
    const order = i % 2 === 0 ? (['slipway', 'bare'] as const) : (['bare', 'slipway'] as const);
    for (const side of order) {
      if (side === 'slipway') {
        const opKey = `${releaseIds[i]}:prod:deploy`;
        const sent = Date.now();
        await client.workflow.getHandle(releaseIds[i]!).signal(approveSignal, { stage: 'prod', approver: APPROVER, comment: 'bench' });
        const move = await pollUntil(async () => (await service.registry.findMove(opKey)) ?? undefined, 10, 15_000);
        if (move) approvalLatency.slipway.push(move.startedAt.getTime() - sent);
        else missed += 1;
      } else {
        const sent = Date.now();
        await client.workflow.getHandle(bareIds[i]!).signal(bareApproveSignal, { stage: 'prod', approver: APPROVER });
        const at = await pollUntil(async () => deployedAt.get(bareIds[i]!), 2, 15_000);
        if (at !== undefined) approvalLatency.bare.push(at - sent);
        else missed += 1;
      }
    }
  }
  if (missed > 0) notes.push(`${missed} approvals saw no deploy within 15s and are left out of the latency figures.`);

  const ended = await Promise.allSettled(releaseIds.map((id) => withTimeout(service.result(id), plan.releaseTimeoutMs, id)));
  const succeeded = ended.filter((r) => r.status === 'fulfilled' && r.value.status === 'succeeded').length;
  if (succeeded < releaseIds.length) notes.push(`Only ${succeeded} of ${releaseIds.length} approved releases ended succeeded.`);
  notes.push(
    `Approval latency: approve signal sent (Signal from the client, as the Web UI sends it) → the prod deploy's move recorded in the registry (its startedAt, stamped by the worker just before the insert, after the deploy activity's reads); ` +
      `baseline: signal sent → the bare workflow's activity started. Approvals go one at a time with nothing else running; ${approvalLatency.slipway.length} per side. ` +
      `Status queries (${queryLatency.slipway.length} per side) go through ReleaseService.status, round-robin over ${models.length} releases waiting for approval.`,
  );

  const sa = summarize(approvalLatency.slipway);
  const ba = summarize(approvalLatency.bare);
  const sq = summarize(queryLatency.slipway);
  const bq = summarize(queryLatency.bare);
  log(`release: approval latency p50 ${ms(sa.p50)} p99 ${ms(sa.p99)} (bare ${ms(ba.p50)} / ${ms(ba.p99)}); status query p99 ${ms(sq.p99)} (bare ${ms(bq.p99)})`);
  const row = (measure: string, s: number, b: number, baseline: string): BenchRow => ({ bench: 'release', measure, slipway: ms(s), baseline: `${ms(b)} (${baseline})`, ratio: ratio(s, b), aim: '—' });
  return [
    row(`approval: signal sent → deploy recorded, p50 (${sa.n})`, sa.p50, ba.p50, 'bare: signal → activity'),
    row(`approval: signal sent → deploy recorded, p99 (${sa.n})`, sa.p99, ba.p99, 'bare: signal → activity'),
    row(`status query on releases awaiting approval, p50 (${sq.n})`, sq.p50, bq.p50, 'bare query'),
    row(`status query on releases awaiting approval, p99 (${sq.n})`, sq.p99, bq.p99, 'bare query'),
  ];
}

// Lock workflows idle for an hour after their last request, and a failed run may leave releases open.
async function terminateOpenWorkflows(client: Client): Promise<void> {
  const ids: string[] = [];
  const deadline = now() + 30_000;
  for await (const execution of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
    ids.push(execution.workflowId);
    if (ids.length >= 5_000 || now() > deadline) break;
  }
  const result = await runPool(ids.length, 20, 60_000, async (i) => {
    await client.workflow.getHandle(ids[i]!).terminate('benchmark finished');
    return true;
  });
  log(`release: terminated ${result.succeeded} open workflows${result.failed > 0 ? ` (${result.failed} had already ended)` : ''}`);
}

async function stopWorker(worker: Worker, running: Promise<void>): Promise<void> {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

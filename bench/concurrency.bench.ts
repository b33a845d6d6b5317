/**
 * concurrency benchmark: release throughput through a 4-stage pipeline (dev,
 * test, staging, prod; no gates, bake or approval) at 1, 10 and 100 releases
 * in flight, each level beside bareReleaseWorkflow running as many no-op
 * activities as one real release schedules (counted from its history), at
 * the same concurrency, on the same server. Every release has its own model.
 */
import type { Client } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { ReleaseService } from '../client/releases';
import type { SlipwayWorkerOptions } from '../workers/worker';
import { bareReleaseWorkflow } from './bare-workflow';
import { type Rig, startRig } from './rig';
import { type BenchContext, type BenchReport, type BenchRow, cpuPer, cpuSeconds, log, ms, now, rate, ratio, runPool, settle, summarize, terminateWorkflows, withTimeout } from './support';

const TASK_QUEUE = 'slipway-bench-concurrency';
const BARE_TASK_QUEUE = 'slipway-bench-concurrency-bare';
const VERSION = '1.0.0';
const REQUESTER = 'bench-ci';
const PIPELINE = 'four';
const PIPELINE_YAML = `name: ${PIPELINE}\nstages:\n  - env: dev\n  - env: test\n  - env: staging\n  - env: prod\n`;
// One tuning for both workers, so the comparison is of the workflows, not the workers.
const TUNING: NonNullable<SlipwayWorkerOptions['tuning']> = {
  maxCachedWorkflows: 1000,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
};

interface Level {
  inFlight: number;
  releases: number;
}

interface Plan {
  levels: Level[];
  /** Per level and side: no new release or bare workflow starts after this. */
  budgetMs: number;
  releaseTimeoutMs: number;
}

const FULL: Plan = {
  levels: [
    { inFlight: 1, releases: 10 },
    { inFlight: 10, releases: 40 },
    { inFlight: 100, releases: 150 },
  ],
  budgetMs: 90_000,
  releaseTimeoutMs: 120_000,
};
const QUICK: Plan = {
  levels: [
    { inFlight: 1, releases: 3 },
    { inFlight: 10, releases: 10 },
    { inFlight: 100, releases: 100 },
  ],
  budgetMs: 45_000,
  releaseTimeoutMs: 90_000,
};

/** concurrencyBench measures 4-stage release throughput at 1, 10 and 100 in flight against bare workflows at the same concurrency. */
export async function concurrencyBench(ctx: BenchContext): Promise<BenchReport> {
  const plan = ctx.quick ? QUICK : FULL;
  let rig: Rig | undefined;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    rig = await startRig(ctx, {
      label: 'concurrency',
      database: 'slipway_bench_concurrency',
      taskQueue: TASK_QUEUE,
      bareTaskQueue: BARE_TASK_QUEUE,
      pipelines: { [PIPELINE]: PIPELINE_YAML },
      tuning: TUNING,
      bareActivities: { async noop() {}, async markDeployed() {} },
      terminateOpen: async (client) => {
        for (const tq of [TASK_QUEUE, BARE_TASK_QUEUE]) {
          const r = await terminateWorkflows(client, `TaskQueue = "${tq}" AND ExecutionStatus = "Running"`, 'benchmark finished');
          if (r.terminated > 0) log(`concurrency: terminated ${r.terminated} open workflows on ${tq}`);
        }
      },
    });
    const { mongo, client, service } = rig;
    let t0 = now();

    // Fresh models, one per release: locks are per (model, env), so releases of one model would queue.
    const models = plan.levels.map((level, l) => Array.from({ length: level.releases }, (_, i) => `conc-${level.inFlight}-${l}-${i}`));
    const all = ['conc-warmup', ...models.flat()];
    t0 = now();
    const registered = await runPool(all.length, 8, 300_000, async (i) => {
      const model = all[i]!;
      await service.registry.registerVersion({ model, version: VERSION, artifact: { uri: `s3://bench/${model}.onnx`, sha256: 'c'.repeat(64) } }, 'bench');
      return true;
    });
    if (registered.failed > 0 || registered.succeeded < all.length) throw new Error(`registering bench models failed: ${registered.errors.join('; ') || 'out of time'}`);
    log(`concurrency: registered ${registered.succeeded} model versions in ${((now() - t0) / 1000).toFixed(1)}s`);

    const { activityCount, byType } = await rig.warmUp({ model: 'conc-warmup', version: VERSION, pipeline: PIPELINE, requestedBy: REQUESTER, bareWorkflowId: 'conc-bare-warmup', timeoutMs: plan.releaseTimeoutMs });

    for (const [l, level] of plan.levels.entries()) {
      try {
        rows.push(...(await measureLevel(client, mongo, service, plan, level, l, activityCount, models[l]!, notes, ctx.pids)));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`concurrency: ${level.inFlight} in flight failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
        rows.push({ bench: 'concurrency', measure: `${level.inFlight} in flight: did not finish`, slipway: `failed: ${message.split('\n')[0]!.slice(0, 300)}`, baseline: '', ratio: '', aim: '' });
      }
    }

    notes.unshift(
      `Each release uses its own model, because the environment lock is one per (model, env).`,
      `One release of the 4-stage pipeline (dev, test, staging, prod; no gates, bake or approval) schedules ${activityCount} activities (${byType}), counted from a real release's history; ` +
        `the bare workflow runs that many no-op activities in sequence. Each stage's environment lock is a registry lease (acquireEnvLock; given back inside the next recordRelease); no release here waits for another, so no queue workflow starts.`,
      `At each level the baseline runs first, then the releases, with the same number in flight (a bounded pool: a new one starts as one finishes) and a ${plan.budgetMs / 1000}s budget per side after which none start. ` +
        `Both workers run in this process with the same tuning (maxCachedWorkflows ${TUNING.maxCachedWorkflows}, maxConcurrentWorkflowTaskExecutions ${TUNING.maxConcurrentWorkflowTaskExecutions}, maxConcurrentActivityTaskExecutions ${TUNING.maxConcurrentActivityTaskExecutions}).`,
    );
    return { name: 'concurrency', rows, notes };
  } finally {
    await rig?.close(120_000);
  }
}

async function measureLevel(
  client: Client,
  mongo: MongoClient,
  service: ReleaseService,
  plan: Plan,
  level: Level,
  l: number,
  activityCount: number,
  models: string[],
  notes: string[],
  pids: Record<string, number>,
): Promise<BenchRow[]> {
  const { inFlight, releases: total } = level;
  const bareDurations: number[] = [];
  log(`concurrency: ${inFlight} in flight: baseline, ${total} bare workflows of ${activityCount} activities`);
  const bareCpuBefore = cpuSeconds(pids);
  const bare = await runPool(total, inFlight, plan.budgetMs, async (i) => {
    const t = now();
    await withTimeout(
      client.workflow.execute(bareReleaseWorkflow, { taskQueue: BARE_TASK_QUEUE, workflowId: `conc-bare-${l}-${i}`, args: [activityCount] }),
      plan.releaseTimeoutMs,
      `bare workflow ${i}`,
    );
    bareDurations.push(now() - t);
    return true;
  });

  const bareCpu = cpuPer(bareCpuBefore, cpuSeconds(pids), Math.max(1, bare.succeeded));
  const releaseDurations: number[] = [];
  const finished = new Set<string>();
  const releaseCpuBefore = cpuSeconds(pids);
  const startedIds: string[] = [];
  log(`concurrency: ${inFlight} in flight: Slipway, ${total} releases`);
  const releases = await runPool(total, inFlight, plan.budgetMs, async (i) => {
    const t = now();
    const started = await service.start({ model: models[i]!, version: VERSION, pipeline: PIPELINE, requestedBy: REQUESTER });
    startedIds.push(started.workflowId);
    const state = await withTimeout(service.result(started.releaseId), plan.releaseTimeoutMs, `release ${started.releaseId}`);
    if (state.status !== 'succeeded') throw new Error(`${started.releaseId} ended ${state.status}: ${state.summary}`);
    releaseDurations.push(now() - t);
    finished.add(started.workflowId);
    return true;
  });

  const releaseCpu = cpuPer(releaseCpuBefore, cpuSeconds(pids), Math.max(1, releases.succeeded));
  // Releases that timed out would load the next level's measurements.
  let terminated = 0;
  for (const id of startedIds.filter((w) => !finished.has(w))) {
    if (await client.workflow.getHandle(id).terminate('benchmark: timed out').then(() => true, () => false)) terminated += 1;
  }
  const quiet = await settle(mongo, 1_000, 30_000);
  if (terminated > 0) notes.push(`${inFlight} in flight: ${terminated} releases still running after ${plan.releaseTimeoutMs / 1000}s were terminated${quiet ? '' : ' (the registry had not gone quiet 30s later)'}.`);
  for (const [what, r] of [['bare workflows', bare], ['releases', releases]] as const) {
    if (r.failed > 0) notes.push(`${inFlight} in flight: ${r.failed} ${what} failed or timed out (first errors: ${r.errors.join('; ')}).`);
    if (r.outOfTime) notes.push(`${inFlight} in flight: the ${plan.budgetMs / 1000}s budget stopped new ${what} after ${r.started} of ${total}.`);
  }

  const perMinute = (r: typeof bare) => r.succeeded / (r.elapsedMs / 60_000);
  const slipwayRate = perMinute(releases);
  const bareRate = perMinute(bare);
  const relD = summarize(releaseDurations);
  const bareD = summarize(bareDurations);
  log(`concurrency: ${inFlight} in flight: ${slipwayRate.toFixed(1)} releases/min vs ${bareRate.toFixed(1)} bare workflows/min; p50 ${ms(relD.p50)} vs ${ms(bareD.p50)}`);
  return [
    {
      bench: 'concurrency',
      measure: `throughput, 4 stages, ${inFlight} in flight, ${releases.succeeded} of ${releases.started} releases finished (ratio = Slipway ÷ bare rate)`,
      slipway: rate(slipwayRate, 'releases/min'),
      baseline: `${rate(bareRate, 'workflows/min')} (bare, ${activityCount} no-op activities, ${bare.succeeded} of ${bare.started})`,
      ratio: ratio(slipwayRate, bareRate),
      aim: '—',
    },
    {
      bench: 'concurrency',
      measure: `start → result of one release, ${inFlight} in flight, p50 (p99)`,
      slipway: `${ms(relD.p50)} (${ms(relD.p99)})`,
      baseline: `${ms(bareD.p50)} (${ms(bareD.p99)}) (bare)`,
      ratio: ratio(relD.p50, bareD.p50),
      aim: '—',
    },
    {
      bench: 'concurrency',
      measure: `CPU per finished release, ${inFlight} in flight, by process (bench = this process: workers and client)`,
      slipway: `${releaseCpu.total.toFixed(0)} ms (${releaseCpu.text})`,
      baseline: `${bareCpu.total.toFixed(0)} ms (${bareCpu.text}) (bare)`,
      ratio: ratio(releaseCpu.total, bareCpu.total),
      aim: '—',
    },
  ];
}

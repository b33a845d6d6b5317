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
import type { Client } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { ReleaseService } from '../client/releases';
import type { SlipwayWorkerOptions } from '../workers/worker';
import { approveSignal, deployOpKey, releaseWorkflowId, type ReleaseState } from '../workflows/release/api';
import { bareApprovalWorkflow, bareApproveSignal, bareReleaseWorkflow, bareStatusQuery } from './bare-workflow';
import { tsToMs } from '@temporalio/common/lib/time';
import { type Rig, startRig } from './rig';
import { type BenchContext, type BenchReport, type BenchRow, type CommandTally, log, monitorCommands, ms, now, pollUntil, rate, ratio, runPool, settle, summarize, withTimeout } from './support';

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
  approvalBudgetMs: number;
  releaseTimeoutMs: number;
}

const FULL: Plan = { releases: 100, approvals: 30, queries: 500, throughputBudgetMs: 60_000, approvalBudgetMs: 60_000, releaseTimeoutMs: 40_000 };
const QUICK: Plan = { releases: 20, approvals: 10, queries: 150, throughputBudgetMs: 45_000, approvalBudgetMs: 30_000, releaseTimeoutMs: 30_000 };

/** releaseBench measures release throughput, approval latency and status query latency against bare Temporal workflows. */
export async function releaseBench(ctx: BenchContext): Promise<BenchReport> {
  const plan = ctx.quick ? QUICK : FULL;
  let rig: Rig | undefined;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const deployedAt = new Map<string, number>();
    rig = await startRig(ctx, {
      label: 'release',
      database: 'slipway_bench_release',
      taskQueue: TASK_QUEUE,
      bareTaskQueue: BARE_TASK_QUEUE,
      pipelines: PIPELINES,
      tuning: TUNING,
      bareActivities: {
        async noop() {},
        async markDeployed(workflowId) {
          deployedAt.set(workflowId, Date.now());
        },
      },
      terminateOpen: terminateOpenWorkflows,
    });
    const { mongo, client, service } = rig;
    let t0 = now();

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

    const { activityCount, byType } = await rig.warmUp({ model: 'warmup', version: VERSION, pipeline: 'instant', requestedBy: REQUESTER, bareWorkflowId: 'bare-warmup', timeoutMs: plan.releaseTimeoutMs });

    // One part failing still leaves the other's figures in the table.
    const parts = [
      { what: 'throughput', run: () => measureThroughput(client, mongo, service, plan, activityCount, throughputModels, notes) },
      { what: 'approval and status query', run: () => measureApprovals(client, service, plan, approvalModels, deployedAt, notes) },
    ];
    for (const part of parts) {
      try {
        rows.push(...(await part.run()));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`release: ${part.what} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
        rows.push({ bench: 'release', measure: `${part.what}: did not finish`, slipway: `failed: ${message.split('\n')[0]!.slice(0, 300)}`, baseline: '', ratio: '', aim: '' });
      }
    }

    notes.unshift(
      `Each release uses its own model, because the environment lock is one per (model, env): releases of one model would queue behind each other by design.`,
      `One release of the 3-stage pipeline schedules ${activityCount} activities (${byType}), counted from a real release's history; the bare workflow runs that many no-op activities in sequence. ` +
        `Each stage's environment lock is a registry lease taken in acquireEnvLock and given back inside the next recordRelease; no release here waits for another, so no queue workflow starts.`,
      `Both workers run in this process with the same tuning (maxCachedWorkflows ${TUNING.maxCachedWorkflows}, maxConcurrentWorkflowTaskExecutions ${TUNING.maxConcurrentWorkflowTaskExecutions}, maxConcurrentActivityTaskExecutions ${TUNING.maxConcurrentActivityTaskExecutions}); ` +
        `the baseline runs first. Releases start through ReleaseService.start, as the CLI and API do; bare workflows through client.workflow.start.`,
    );
    return { name: 'release', rows, notes };
  } finally {
    await rig?.close(60_000);
  }
}

async function measureThroughput(
  client: Client,
  mongo: MongoClient,
  service: ReleaseService,
  plan: Plan,
  activityCount: number,
  models: string[],
  notes: string[],
): Promise<BenchRow[]> {
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
  const finished: string[] = [];
  const startedIds: string[] = [];
  log(`release: Slipway, ${plan.releases} releases, ${IN_FLIGHT} in flight`);
  const monitor = monitorCommands(mongo);
  const releases = await runPool(plan.releases, IN_FLIGHT, plan.throughputBudgetMs, async (i) => {
    const t = now();
    const started = await service.start({ model: models[i]!, version: VERSION, pipeline: 'instant', requestedBy: REQUESTER });
    startedIds.push(started.workflowId);
    const state = await withTimeout(service.result(started.releaseId), plan.releaseTimeoutMs, `release ${started.releaseId}`);
    if (state.status !== 'succeeded') throw new Error(`${started.releaseId} ended ${state.status}: ${state.summary}`);
    releaseDurations.push(now() - t);
    finished.push(started.workflowId);
    return true;
  }).finally(monitor.stop);
  // Releases that timed out would keep loading the server through the next measurement.
  const done = new Set(finished);
  const leftovers = startedIds.filter((id) => !done.has(id));
  const stuck = await describeStuck(client, leftovers.slice(0, 5));
  if (stuck) notes.push(stuck);
  let terminated = 0;
  for (const id of leftovers) {
    const ok = await client.workflow.getHandle(id).terminate('benchmark: timed out').then(() => true, () => false);
    if (ok) terminated += 1;
  }
  const quiet = await settle(mongo, 1_000, 30_000);
  if (terminated > 0) notes.push(`${terminated} releases still running when their ${plan.releaseTimeoutMs / 1000}s timeout passed were terminated${quiet ? '' : '; the registry had not gone quiet 30s later, so their leftover activity attempts still loaded it during the approval measurements'}.`);
  for (const [what, r] of [['bare workflows', bare], ['releases', releases]] as const) {
    if (r.failed > 0) notes.push(`${r.failed} ${what} failed or timed out (first errors: ${r.errors.join('; ')}).`);
    if (r.outOfTime) notes.push(`The ${plan.throughputBudgetMs / 1000}s budget stopped new ${what} after ${r.started} of ${plan.releases}.`);
  }
  const perMinute = (r: typeof bare) => r.succeeded / (r.elapsedMs / 60_000);
  const slipwayRate = perMinute(releases);
  const bareRate = perMinute(bare);
  log(`release: ${slipwayRate.toFixed(0)} releases/min vs ${bareRate.toFixed(0)} bare workflows/min`);
  notes.push(describeCommands(monitor.tallies, releases.started));
  notes.push(await describeTimeline(client, finished));
  const relD = summarize(releaseDurations);
  const bareD = summarize(bareDurations);
  return [
    {
      bench: 'release',
      measure: `throughput, 3 stages (instant gates, zero bake), ${releases.succeeded} of ${releases.started} releases finished, ${IN_FLIGHT} in flight (ratio = Slipway ÷ bare rate)`,
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
  // The first start stores the pipeline by itself, so the timed part never depends on first-write races.
  const runIds = new Map<string, string>(); // release id → run id, which names its deploy keys
  const start = async (model: string) => {
    const s = await service.start({ model, version: VERSION, pipeline: 'approve-prod', requestedBy: REQUESTER });
    runIds.set(s.releaseId, s.runId);
  };
  await start(models[0]!);
  const started = await runPool(models.length - 1, 10, 60_000, async (i) => {
    await start(models[i + 1]!);
    return true;
  });
  if (started.failed > 0) throw new Error(`starting approval releases failed: ${started.errors.join('; ')}`);
  const releaseIds = models.map((m) => releaseWorkflowId(m, VERSION));
  const bareIds = models.map((_, i) => `bare-approval-${i}`);
  for (const workflowId of bareIds) await client.workflow.start(bareApprovalWorkflow, { taskQueue: BARE_TASK_QUEUE, workflowId });

  const awaiting = (s: ReleaseState) => s.stages[0]?.status === 'awaiting_approval';
  const waitDeadline = now() + 60_000;
  for (const id of releaseIds) {
    const state = await pollUntil(async () => {
      const s = await service.status(id).catch(() => undefined);
      return s && awaiting(s) ? s : undefined;
    }, 100, Math.max(0, waitDeadline - now()));
    if (!state) throw new Error(`${id} did not reach awaiting_approval within 60s of the starts`);
  }
  // A query answered once means the bare workflow has run its first task and is waiting.
  for (const id of bareIds) await client.workflow.getHandle(id).query(bareStatusQuery);

  // Status query latency: alternate batches, spread over every waiting workflow.
  const queryLatency = { slipway: [] as number[], bare: [] as number[] };
  const batch = 50;
  const queryDeadline = now() + 60_000;
  for (let k = 0, round = 0; queryLatency.slipway.length < plan.queries && now() < queryDeadline; k += batch, round++) {
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

  // Approval latency, one at a time so each is measured without queueing behind the others. Waiting on the
  // result (a long poll) rather than polling the registry keeps the wait itself from loading the database.
  const approvalLatency = { slipway: [] as number[], bare: [] as number[] };
  let missed = 0;
  let notSucceeded = 0;
  const approvalDeadline = now() + plan.approvalBudgetMs;
  let approvedCount = 0;
  for (let i = 0; i < models.length && now() < approvalDeadline; i++) {
    approvedCount += 1;
    const order = i % 2 === 0 ? (['slipway', 'bare'] as const) : (['bare', 'slipway'] as const);
    for (const side of order) {
      if (side === 'slipway') {
        const id = releaseIds[i]!;
        const sent = Date.now();
        await client.workflow.getHandle(id).signal(approveSignal, { stage: 'prod', approver: APPROVER, comment: 'bench' });
        const state = await withTimeout(service.result(id), 15_000, id).catch(() => undefined);
        if (state?.status !== 'succeeded') notSucceeded += 1;
        const move = await service.registry.findMove(deployOpKey(id, runIds.get(id)!, 'prod'));
        if (move) approvalLatency.slipway.push(move.startedAt.getTime() - sent);
        else missed += 1;
      } else {
        const handle = client.workflow.getHandle(bareIds[i]!);
        const sent = Date.now();
        await handle.signal(bareApproveSignal, { stage: 'prod', approver: APPROVER });
        await withTimeout(handle.result(), 15_000, bareIds[i]!).catch(() => undefined);
        const at = deployedAt.get(bareIds[i]!);
        if (at !== undefined) approvalLatency.bare.push(at - sent);
        else missed += 1;
      }
    }
  }
  if (missed > 0) notes.push(`${missed} approvals saw no deploy within 15s and are left out of the latency figures.`);

  // Releases left unapproved (out of time) stay open; the cleanup terminates them.
  if (notSucceeded > 0) notes.push(`${notSucceeded} of ${approvedCount} approved releases did not end succeeded within 15s.`);
  if (approvedCount < releaseIds.length) notes.push(`The ${plan.approvalBudgetMs / 1000}s approval budget ran out after ${approvedCount} of ${releaseIds.length} releases.`);
  notes.push(
    `Approval latency: approve signal sent (Signal from the client, as the Web UI sends it) → the prod deploy's move recorded in the registry (its startedAt, stamped by the worker just before the insert, after the deploy activity's reads), read once the release has ended; ` +
      `baseline: signal sent → the bare workflow's activity started (stamped in the activity). Approvals go one at a time with nothing else running; ${approvalLatency.slipway.length} per side. ` +
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

// The registry commands behind the releases, costliest first: on FerretDB the unindexed scans show here.
function describeCommands(tallies: Map<string, CommandTally>, releases: number): string {
  const per = Math.max(1, releases);
  const top = [...tallies]
    .sort((a, b) => b[1].totalMs - a[1].totalMs)
    .slice(0, 6)
    .map(([kind, t]) => `${kind} ${(t.count / per).toFixed(1)}/release, avg ${ms(t.totalMs / t.count)}${t.writeErrors > 0 ? ` (${t.writeErrors} refused as duplicates)` : ''}`);
  const total = [...tallies.values()].reduce((a, t) => a + t.count, 0);
  return `MongoDB commands during the Slipway throughput run: ${(total / per).toFixed(1)} per release started; by total time: ${top.join('; ')}.`;
}

// Where a release's time goes, from the histories of a sample of finished releases.
async function describeTimeline(client: Client, workflowIds: string[]): Promise<string> {
  const sample = workflowIds.filter((_, i) => i % Math.max(1, Math.floor(workflowIds.length / 10)) === 0).slice(0, 10);
  const queued = new Map<string, number[]>();
  const ran = new Map<string, number[]>();
  const lockWaits: number[] = [];
  const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const id of sample) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const scheduled = new Map<string, { type: string; at: number }>();
    const startedAt = new Map<string, number>();
    let lockRequestedAt: number | undefined;
    for (const e of events) {
      const at = tsToMs(e.eventTime);
      if (e.activityTaskScheduledEventAttributes) {
        const type = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
        scheduled.set(String(e.eventId), { type, at });
        if (type === 'acquireEnvLock') lockRequestedAt = at;
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) startedAt.set(String(st.scheduledEventId), at);
      const done = e.activityTaskCompletedEventAttributes;
      if (done) {
        const s = scheduled.get(String(done.scheduledEventId));
        const began = startedAt.get(String(done.scheduledEventId));
        if (s && began !== undefined) {
          push(queued, s.type, began - s.at);
          push(ran, s.type, at - began);
        }
      }
      if (e.workflowExecutionSignaledEventAttributes?.signalName === 'lockGranted' && lockRequestedAt !== undefined) {
        lockWaits.push(at - lockRequestedAt);
        lockRequestedAt = undefined;
      }
    }
  }
  if (sample.length === 0) return 'No release finished in time, so there is no history to sample.';
  const parts = [...ran.keys()].sort().map((type) => `${type} ran ${ms(summarize(ran.get(type)!).p50)} after ${ms(summarize(queued.get(type)!).p50)} queued`);
  const waits = lockWaits.length > 0 ? `; ${lockWaits.length} lock waits, acquireEnvLock scheduled → lockGranted signal p50 ${ms(summarize(lockWaits).p50)}` : '; no release waited for a lock';
  return `Where a release's time goes (p50 over the histories of ${sample.length} releases from the throughput run): ${parts.join('; ')}${waits}.`;
}

// What releases that ran out of time were doing: their pending activities, attempts and last failures.
async function describeStuck(client: Client, workflowIds: string[]): Promise<string | undefined> {
  const seen: string[] = [];
  for (const id of workflowIds) {
    const desc = await client.workflow.getHandle(id).describe().catch(() => undefined);
    const pending = desc?.raw.pendingActivities ?? [];
    const what = pending.map((p) => `${p.activityType?.name ?? '?'} attempt ${p.attempt ?? 1}${p.lastFailure?.message ? ` (last failure: ${p.lastFailure.message.slice(0, 120)})` : ''}`);
    seen.push(`${id}: ${what.length > 0 ? what.join(', ') : 'no pending activity (waiting on a signal or a workflow task)'}`);
  }
  return seen.length > 0 ? `Releases that ran out of time were doing: ${seen.join('; ')}.` : undefined;
}

// A failed run may leave releases (and any queue workflow) open.
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

/** stopWorker shuts a worker down and waits for its run to end. */


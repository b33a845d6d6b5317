/**
 * sustained benchmark: releases started at a steady 1,000 an hour for 10
 * minutes (`--minutes` changes the length, `--per-hour` the rate) through a
 * 4-stage pipeline with gates, bakes with health checks and a prod approval,
 * on 20 models so releases of one model sometimes queue for its lease.
 *
 * The bench plays CI and the people: it registers each version and starts its
 * release on the clock, watches it with `status` queries, approves prod by
 * Update (as the CLI does) after a short human pause, rejects some, and posts
 * an unhealthy report during some staging bakes. Planned outcomes:
 *   - 1 in 10 versions has poor accuracy: fails the test gate, dev is undone;
 *   - 1 in 20 is rejected at prod; 1 in 20 turns unhealthy in staging's bake;
 *   - the rest succeed.
 * Afterwards it checks that nothing was lost (every release has its final
 * record), nothing is stuck (all ended), each ended as planned, every deploy
 * happened exactly once, every lease was given back, and the audit chain
 * verifies. The figure beside each is the planned value.
 *
 * A subscription to every event type points at a receiver on 127.0.0.1, so
 * event delivery runs under the same load; its figure is the delivery latency
 * of each event, from the moment it was recorded to the receiver's first
 * receipt (after the drain, deliveries still under way get up to a minute).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SubscriptionStore } from '../registry/subscriptions';
import type { ReleaseService } from '../client/releases';
import type { ReleaseStatus } from '../domain/outcome';
import type { SlipwayWorkerOptions } from '../workers/worker';
import { deployOpKey, type ReleaseState } from '../workflows/release/api';
import { type Rig, startRig } from './rig';
import { type BenchContext, type BenchReport, type BenchRow, log, mib, ms, now, summarize, terminateWorkflows, withTimeout } from './support';

const TASK_QUEUE = 'slipway-bench-sustained';
const PIPELINE = 'sustained';
const MODELS = 20;
const REQUESTER = 'ci';
const APPROVER = 'alice';
const ENVS = ['dev', 'test', 'staging', 'prod'] as const;
const PIPELINE_YAML = `name: ${PIPELINE}
concurrency: queue
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.5" }
  - env: test
    gates:
      - type: metrics
        require: { accuracy: ">= 0.9" }
  - env: staging
    bake: 6s
    # Healthy releases post no reports here; the unhealthy plan posts one.
    healthChecks: { interval: 2s, maxErrorRate: 0.05, minReports: 0 }
  - env: prod
    approval: { required: 1, approvers: [${APPROVER}], timeout: 1h }
    bake: 4s
    healthChecks: { interval: 2s, maxErrorRate: 0.05, minReports: 0 }
`;
const TUNING: NonNullable<SlipwayWorkerOptions['tuning']> = {
  maxCachedWorkflows: 1000,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
};
const DRAIN_MS = 180_000;
const EVENT_SECRET_ENV = 'SLIPWAY_EVENT_SECRET_BENCH';
const EVENT_DRAIN_MS = 60_000;

type Plan = 'succeed' | 'poor-accuracy' | 'rejected' | 'unhealthy-in-staging';

const EXPECTED: Record<Plan, { status: ReleaseStatus; deployedEnvs: readonly string[] }> = {
  succeed: { status: 'succeeded', deployedEnvs: ENVS },
  'poor-accuracy': { status: 'rolled_back', deployedEnvs: ['dev'] },
  rejected: { status: 'rejected', deployedEnvs: ['dev', 'test', 'staging'] },
  'unhealthy-in-staging': { status: 'rolled_back', deployedEnvs: ['dev', 'test', 'staging'] },
};

function planFor(i: number): Plan {
  if (i % 10 === 3) return 'poor-accuracy';
  if (i % 20 === 7) return 'rejected';
  if (i % 20 === 12) return 'unhealthy-in-staging';
  return 'succeed';
}

interface Tracked {
  i: number;
  plan: Plan;
  model: string;
  version: string;
  releaseId?: string;
  runId?: string;
  startError?: string;
  final?: ReleaseState;
  endedAtMs?: number;
  startedAtMs: number;
}

/** sustainedBench starts releases at a steady rate for a fixed time and checks every one ended as planned. */
export async function sustainedBench(ctx: BenchContext): Promise<BenchReport> {
  const minutes = ctx.minutes ?? (ctx.quick ? 2 : 10);
  const perHour = ctx.perHour ?? 1000;
  const intervalMs = 3_600_000 / perHour;
  const total = Math.floor((minutes * 60_000) / intervalMs);
  let rig: Rig | undefined;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const receiver = await startEventReceiver();
  try {
    rig = await startRig(ctx, {
      pluginSettings: { [EVENT_SECRET_ENV]: 'sustained-bench-event-secret-0123456789' },
      label: 'sustained',
      database: 'slipway_bench_sustained',
      taskQueue: TASK_QUEUE,
      pipelines: { [PIPELINE]: PIPELINE_YAML },
      tuning: TUNING,
      terminateOpen: async (client) => {
        const r = await terminateWorkflows(client, `TaskQueue = "${TASK_QUEUE}" AND ExecutionStatus = "Running"`, 'benchmark finished');
        if (r.terminated > 0) log(`sustained: terminated ${r.terminated} open workflows`);
      },
    });
    const { service, client, db } = rig;
    const subscriptions = new SubscriptionStore(db);
    await subscriptions.add({ url: `${receiver.url}/events`, events: ['*'], secretEnv: EVENT_SECRET_ENV }, 'bench');
    const statusLatency: number[] = [];
    const tracked: Tracked[] = [];
    const watchers: Promise<void>[] = [];
    const rss: number[] = [process.memoryUsage().rss];

    log(`sustained: ${total} releases, one every ${(intervalMs / 1000).toFixed(1)}s for ${minutes} min (${perHour}/hour)`);
    const t0 = now();
    for (let i = 0; i < total; i++) {
      const due = t0 + i * intervalMs;
      if (due > now()) await sleep(due - now());
      const r: Tracked = { i, plan: planFor(i), model: `sus-${i % MODELS}`, version: `v${i}`, startedAtMs: now() };
      tracked.push(r);
      watchers.push(drive(service, r, statusLatency));
      if (i % 25 === 24) {
        rss.push(process.memoryUsage().rss);
        const open = tracked.filter((t) => t.final === undefined && t.startError === undefined).length;
        log(`sustained: ${i + 1}/${total} started, ${open} in flight, ${((now() - t0) / 60_000).toFixed(1)} min`);
      }
    }
    const loadSeconds = (now() - t0) / 1000;
    log(`sustained: all ${total} started in ${loadSeconds.toFixed(0)}s; draining (up to ${DRAIN_MS / 1000}s)`);
    await withTimeout(Promise.all(watchers), DRAIN_MS, 'draining').catch((err: unknown) => log(`sustained: ${String(err)}`));
    rss.push(process.memoryUsage().rss);

    // --- checks ---------------------------------------------------------------
    const startFailures = tracked.filter((t) => t.startError !== undefined);
    const started = tracked.filter((t) => t.releaseId !== undefined);
    const records = new Map((await db.collection<{ _id: string; endedAt: string | null; outcome: { status: string } | null }>('releases').find({}, { projection: { endedAt: 1, outcome: 1 } }).toArray()).map((d) => [d._id, d]));
    const lost = started.filter((t) => !records.has(t.releaseId!));
    const stuck: string[] = [];
    for (const t of started) {
      const record = records.get(t.releaseId!);
      const description = await client.workflow.getHandle(t.releaseId!).describe().catch(() => undefined);
      if (!record?.endedAt || description?.status.name === 'RUNNING') stuck.push(t.releaseId!);
    }
    const wrongEnd = started.filter((t) => records.get(t.releaseId!)?.endedAt && records.get(t.releaseId!)?.outcome?.status !== EXPECTED[t.plan].status);
    const deployments = await db.collection<{ opKey: string }>('deployments').find({}, { projection: { opKey: 1 } }).toArray();
    const opKeyCount = new Map<string, number>();
    for (const d of deployments) opKeyCount.set(d.opKey, (opKeyCount.get(d.opKey) ?? 0) + 1);
    const deployProblems: string[] = [];
    for (const t of started) {
      for (const env of ENVS) {
        const want = EXPECTED[t.plan].deployedEnvs.includes(env) ? 1 : 0;
        const key = deployOpKey(t.releaseId!, t.runId!, env);
        const got = opKeyCount.get(key) ?? 0;
        if (got !== want) deployProblems.push(`${t.releaseId} ${env}: ${got} deploys, planned ${want}`);
        const undos = opKeyCount.get(`${key}:undo`) ?? 0;
        if (undos > 1) deployProblems.push(`${t.releaseId} ${env}: undone ${undos} times`);
      }
    }
    const leftLeases = await db.collection('env_leases').countDocuments({});
    // Deliveries run behind the releases: give the last ones time to land before judging.
    const eventDrainUntil = now() + EVENT_DRAIN_MS;
    while (now() < eventDrainUntil && (await subscriptions.deliveries.countDocuments({ status: { $in: ['pending', 'retrying'] } })) > 0) await sleep(1_000);
    const published = await subscriptions.events.find({}, { projection: { recordedAt: 1 } }).toArray();
    const undelivered = published.filter((e) => !receiver.firstSeen.has(e._id));
    const deliveryLatency = summarize(published.filter((e) => receiver.firstSeen.has(e._id)).map((e) => receiver.firstSeen.get(e._id)! - e.recordedAt.getTime()));
    log(`sustained: events: ${published.length} published, ${published.length - undelivered.length} delivered; delivery latency p50 ${ms(deliveryLatency.p50)}, p99 ${ms(deliveryLatency.p99)} (${deliveryLatency.n} events)`);
    const audit = await service.registry.audit.verify();

    // --- report ---------------------------------------------------------------
    const byPlan = (plan: Plan) => started.filter((t) => t.plan === plan).length;
    const planned = (Object.keys(EXPECTED) as Plan[]).map((p) => `${byPlan(p)} ${p}`).join(', ');
    const ended = started.filter((t) => t.final !== undefined);
    const durations = summarize(ended.filter((t) => t.final!.status === 'succeeded').map((t) => t.endedAtMs! - t.startedAtMs));
    const q = summarize(statusLatency);
    const achieved = (started.length / loadSeconds) * 3600;
    const row = (measure: string, slipway: string, baseline: string, ok: boolean): BenchRow => ({ bench: 'sustained', measure, slipway, baseline, ratio: ok ? 'as planned' : 'NOT as planned', aim: '—' });
    rows.push(
      { bench: 'sustained', measure: `releases started at a steady rate for ${minutes} min`, slipway: `${started.length} started (${achieved.toFixed(0)}/hour)`, baseline: `${total} planned (${perHour}/hour)`, ratio: `${(achieved / perHour).toFixed(2)}×`, aim: '1,000/hour for 10 min' },
      row('start failures', String(startFailures.length), '0', startFailures.length === 0),
      row('lost (no final record in the registry)', String(lost.length), '0', lost.length === 0),
      row(`stuck (not ended ${DRAIN_MS / 1000}s after the last start)`, String(stuck.length), '0', stuck.length === 0),
      row('ended other than planned', String(wrongEnd.length), `0 (planned: ${planned})`, wrongEnd.length === 0),
      row('deploys not exactly once per planned stage (or undone twice)', String(deployProblems.length), '0', deployProblems.length === 0),
      row('leases still held after the run', String(leftLeases), '0', leftLeases === 0),
      row('audit chain', audit.ok ? `verifies (${audit.checked} events)` : `BROKEN at ${JSON.stringify(audit.brokenAt)}`, 'verifies', audit.ok),
      { bench: 'sustained', measure: `start → succeeded, p50 (p99), ${durations.n} releases (includes a 1–5 s approval pause and 10 s of bakes)`, slipway: `${ms(durations.p50)} (${ms(durations.p99)})`, baseline: '', ratio: '', aim: '—' },
      row('events not delivered to the subscribed receiver', String(undelivered.length), `0 of ${published.length} published`, undelivered.length === 0),
      { bench: 'sustained', measure: `event delivery latency (recorded → receiver got it), p50 (p99), ${deliveryLatency.n} events`, slipway: `${ms(deliveryLatency.p50)} (${ms(deliveryLatency.p99)})`, baseline: '', ratio: '', aim: '—' },
      { bench: 'sustained', measure: `status query under this load, p50 (p99), ${q.n} queries`, slipway: `${ms(q.p50)} (${ms(q.p99)})`, baseline: '', ratio: '', aim: '—' },
      { bench: 'sustained', measure: 'bench process RSS (worker in this process): first start → last start → drained', slipway: rss.length > 0 ? `${mib(rss[0]!)} → ${mib(rss[rss.length - 2] ?? rss[0]!)} → ${mib(rss[rss.length - 1]!)}` : 'n/a', baseline: '', ratio: '', aim: 'flat' },
    );
    for (const [what, list] of [['start failures', startFailures.map((t) => `${t.model}@${t.version}: ${t.startError}`)], ['lost', lost.map((t) => t.releaseId!)], ['stuck', stuck], ['wrong ends', wrongEnd.map((t) => `${t.releaseId} planned ${EXPECTED[t.plan].status}, ended ${records.get(t.releaseId!)?.outcome?.status}`)], ['deploy problems', deployProblems]] as const) {
      if (list.length > 0) notes.push(`${what} (first ${Math.min(5, list.length)}): ${list.slice(0, 5).join('; ')}`);
    }
    notes.unshift(
      `Pipeline: dev (metrics gate) → test (metrics gate, accuracy ≥ 0.9) → staging (6 s bake, health every 2 s) → prod (1 approver, 4 s bake), queue mode, on ${MODELS} models in turn, so a release sometimes waits for the previous one of its model.`,
      `The bench registers each version and starts its release on the clock (ReleaseService, as the CLI and API do), polls each release's status once a second, approves prod by Update 1–5 s after it asks, rejects the planned ones by Signal, and posts an unhealthy health report (error rate 0.3) once a planned-unhealthy release is baking in staging.`,
      `Checks after the run read the registry and Temporal directly: a final release record for every start, nothing still running, each outcome as planned, one deploy move per planned stage per release (by opKey), no lease left behind, and the audit chain verified end to end.`,
    );
    log(`sustained: ${started.length} started, ${lost.length} lost, ${stuck.length} stuck, ${wrongEnd.length} wrong ends, ${deployProblems.length} deploy problems, ${leftLeases} leases left, audit ${audit.ok ? 'ok' : 'BROKEN'}`);
    return { name: 'sustained', rows, notes };
  } finally {
    await rig?.close(120_000);
    await receiver.close();
  }
}

/** startEventReceiver listens on 127.0.0.1 and notes when each event id first arrived (duplicates of an at-least-once delivery count once). */
async function startEventReceiver(): Promise<{ url: string; firstSeen: Map<string, number>; close(): Promise<void> }> {
  const firstSeen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown }).id;
        if (typeof id === 'string' && !firstSeen.has(id)) firstSeen.set(id, at);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstSeen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}


/** drive plays CI and the people for one release until it ends. */
async function drive(service: ReleaseService, r: Tracked, statusLatency: number[]): Promise<void> {
  try {
    const accuracy = r.plan === 'poor-accuracy' ? 0.8 : 0.95;
    await service.registry.registerVersion({ model: r.model, version: r.version, artifact: { uri: `s3://bench/${r.model}/${r.version}.onnx`, sha256: 'e'.repeat(64) }, metrics: { accuracy } }, REQUESTER);
    const started = await service.start({ model: r.model, version: r.version, pipeline: PIPELINE, requestedBy: REQUESTER });
    r.releaseId = started.releaseId;
    r.runId = started.runId;
  } catch (err) {
    r.startError = err instanceof Error ? err.message : String(err);
    return;
  }
  let answered = false;
  let reported = false;
  for (;;) {
    await sleep(1_000);
    const t = now();
    let state: ReleaseState;
    try {
      state = await service.status(r.releaseId);
    } catch {
      continue; // a query can time out under load; the next poll asks again
    }
    statusLatency.push(now() - t);
    if (state.endedAt !== null) {
      r.final = state;
      r.endedAtMs = now();
      return;
    }
    const stage = state.stages.find((s) => s.env === state.currentStage);
    if (r.plan === 'unhealthy-in-staging' && !reported && stage?.env === 'staging' && stage.status === 'baking') {
      reported = true;
      await service.releases.reportHealth({ model: r.model, env: 'staging', version: r.version, healthy: false, errorRate: 0.3, source: 'sustained-bench' });
    }
    if (!answered && state.status === 'awaiting_approval') {
      answered = true;
      await sleep(1_000 + ((r.i * 7919) % 4_000)); // a person takes a moment
      if (r.plan === 'rejected') await service.reject({ releaseId: r.releaseId, stage: 'prod', approver: APPROVER, reason: 'not this week' });
      else await service.approve({ releaseId: r.releaseId, stage: 'prod', approver: APPROVER });
    }
  }
}

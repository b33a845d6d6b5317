/**
 * The set-up the release benchmarks share: a fresh registry database, a
 * pipelines folder, the Slipway worker and a bare worker with the same
 * tuning, a client and a ReleaseService — and closing all of it, newest first.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { MongoClient, type Db } from 'mongodb';
import { ReleaseService } from '../client/releases';
import { createSlipwayWorker, type SlipwayWorker, type SlipwayWorkerOptions } from '../workers/worker';
import { bareReleaseWorkflow, type BareActivities } from './bare-workflow';
import { type BenchContext, dbUri, log, now, withTimeout } from './support';

/** RigOptions name what a benchmark runs on. */
export interface RigOptions {
  /** Prefix of log lines ("release", "concurrency"). */
  label: string;
  database: string;
  taskQueue: string;
  /** Where the bare worker polls; without it (and bareActivities) no bare worker starts. */
  bareTaskQueue?: string;
  pipelines: Record<string, string>;
  tuning: NonNullable<SlipwayWorkerOptions['tuning']>;
  bareActivities?: BareActivities;
  /** SLIPWAY_* settings for the worker (e.g. an event subscription's signing secret). */
  pluginSettings?: SlipwayWorkerOptions['pluginSettings'];
  /** Terminates what is still open on the server; runs before the workers stop. */
  terminateOpen: (client: Client) => Promise<void>;
}

/** Rig is a running benchmark set-up. */
export interface Rig {
  mongo: MongoClient;
  db: Db;
  client: Client;
  service: ReleaseService;
  slipway: SlipwayWorker;
  /** close stops and removes everything, newest first, logging what fails. */
  close(timeoutMs: number): Promise<void>;
  /**
   * warmUp runs one release (and, with a bare worker, one bare workflow) so bundles, connections and
   * caches are loaded before anything is timed; the release's history says how many activities
   * a release schedules, which is how many no-op activities the bare workflow runs.
   */
  warmUp(o: { model: string; version: string; pipeline: string; requestedBy: string; bareWorkflowId: string; timeoutMs: number }): Promise<{ activityCount: number; byType: string }>;
}

/** startRig builds the rig; if building fails halfway, what was built is closed. */
export async function startRig(ctx: BenchContext, o: RigOptions): Promise<Rig> {
  const closers: { what: string; close: () => Promise<unknown> }[] = [];
  const close = async (timeoutMs: number) => {
    for (const closer of closers.splice(0).reverse()) {
      await withTimeout(closer.close(), timeoutMs, `closing ${closer.what}`).catch((err: unknown) => log(`${o.label}: closing ${closer.what} failed: ${String(err)}`));
    }
  };
  try {
    // Command monitoring shows which registry queries a release spends its time in.
    const mongo = await new MongoClient(dbUri(ctx.mongodbUri, o.database), { monitorCommands: true }).connect();
    closers.push({ what: 'MongoDB client', close: () => mongo.close() });
    const db = mongo.db();
    await db.dropDatabase();

    const pipelinesDir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-bench-pipelines-'));
    closers.push({ what: 'pipelines folder', close: () => fs.rm(pipelinesDir, { recursive: true, force: true }) });
    for (const [name, yaml] of Object.entries(o.pipelines)) await fs.writeFile(path.join(pipelinesDir, `${name}.yaml`), yaml);

    let t0 = now();
    const slipway = await createSlipwayWorker({ temporalAddress: ctx.temporalAddress, namespace: 'default', taskQueue: o.taskQueue, db, tuning: o.tuning, pluginSettings: o.pluginSettings });
    closers.push({ what: 'Slipway worker connections', close: () => slipway.close() });
    const slipwayRun = slipway.worker.run().catch((err: unknown) => log(`${o.label}: Slipway worker stopped with an error: ${String(err)}`));
    closers.push({ what: 'Slipway worker', close: () => stopWorker(slipway.worker, slipwayRun) });
    log(`${o.label}: Slipway worker ready in ${((now() - t0) / 1000).toFixed(1)}s`);

    if (o.bareTaskQueue !== undefined && o.bareActivities !== undefined) {
      t0 = now();
      const bareConnection = await NativeConnection.connect({ address: ctx.temporalAddress });
      closers.push({ what: 'bare worker connection', close: () => bareConnection.close() });
      const bareWorker = await Worker.create({
        connection: bareConnection,
        namespace: 'default',
        taskQueue: o.bareTaskQueue,
        workflowsPath: require.resolve('./bare-workflow'),
        activities: o.bareActivities,
        ...o.tuning,
      });
      const bareRun = bareWorker.run().catch((err: unknown) => log(`${o.label}: bare worker stopped with an error: ${String(err)}`));
      closers.push({ what: 'bare worker', close: () => stopWorker(bareWorker, bareRun) });
      log(`${o.label}: bare worker ready in ${((now() - t0) / 1000).toFixed(1)}s`);
    }

    const connection = await Connection.connect({ address: ctx.temporalAddress });
    closers.push({ what: 'Temporal client connection', close: () => connection.close() });
    const client = new Client({ connection, namespace: 'default' });
    // Closers run newest first: open workflows are terminated before the workers stop.
    closers.push({ what: 'open workflows', close: () => o.terminateOpen(client) });
    const service = new ReleaseService({ temporal: client, db, taskQueue: o.taskQueue, pipelinesDir, bootstrapFromFolder: true });
    const warmUp: Rig['warmUp'] = async (w) => {
      const warm = await service.start({ model: w.model, version: w.version, pipeline: w.pipeline, requestedBy: w.requestedBy });
      const warmState = await withTimeout(service.result(warm.releaseId), w.timeoutMs, 'warm-up release');
      if (warmState.status !== 'succeeded') throw new Error(`warm-up release ended ${warmState.status}: ${warmState.summary}`);
      const history = await client.workflow.getHandle(warm.workflowId).fetchHistory();
      const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? '?'] : []));
      const byType = [...countBy(scheduled)].map(([name, n]) => `${name} ×${n}`).join(', ');
      log(`${o.label}: one release of pipeline ${w.pipeline} schedules ${scheduled.length} activities (${byType})`);
      if (o.bareTaskQueue !== undefined) {
        await withTimeout(client.workflow.execute(bareReleaseWorkflow, { taskQueue: o.bareTaskQueue, workflowId: w.bareWorkflowId, args: [scheduled.length] }), w.timeoutMs, 'warm-up bare workflow');
      }
      return { activityCount: scheduled.length, byType };
    };
    return { mongo, db, client, service, slipway, close, warmUp };
  } catch (err) {
    await close(60_000);
    throw err;
  }
}

/** stopWorker shuts a worker down and waits for its run loop. */
export async function stopWorker(worker: Worker, running: Promise<void>): Promise<void> {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
}

/** countBy counts how often each value occurs. */
export function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

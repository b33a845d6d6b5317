/**
 * Worker wiring: one task queue serving every Slipway workflow and activity.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Db } from 'mongodb';
import { createActivities } from '../activities';
import { installRuntime } from './runtime';

/** WorkerOptions say where the worker connects and what it hands activities. */
export interface SlipwayWorkerOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  db: Db;
}

/** createSlipwayWorker connects to Temporal and builds (but does not run) the worker. */
export async function createSlipwayWorker(options: SlipwayWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  installRuntime();
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: createActivities({ db: options.db }),
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

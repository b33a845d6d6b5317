/**
 * What a test file needs from the stack test/run.ts started: addresses, a
 * private database and task queue per test file, and a running worker.
 */
import { randomUUID } from 'node:crypto';
import { Signer } from '../../lib/signing';
import { Client, Connection } from '@temporalio/client';
import { MongoClient, type Db } from 'mongodb';
import type { Worker } from '@temporalio/worker';
import { createSlipwayWorker, type SlipwayWorker, type SlipwayWorkerOptions } from '../../workers/worker';
import { dataConverterFor } from '../../codec';
import { clientTracingInterceptors } from '../../observability/tracing';

/** testEnv reads the addresses test/run.ts exported, failing clearly if run outside it. */
export function testEnv(): { temporalAddress: string; mongodbUri: string; uiUrl: string } {
  const { TEMPORAL_ADDRESS, SLIPWAY_MONGODB_URI, SLIPWAY_TEST_UI_URL } = process.env;
  if (!TEMPORAL_ADDRESS || !SLIPWAY_MONGODB_URI || !SLIPWAY_TEST_UI_URL) {
    throw new Error('integration tests need the stack from test/run.ts: run them with `npm test -- <file>`');
  }
  return { temporalAddress: TEMPORAL_ADDRESS, mongodbUri: SLIPWAY_MONGODB_URI, uiUrl: SLIPWAY_TEST_UI_URL };
}

/** uniqueName gives a short unique suffix so test files never share data. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
}

/** TestDb is a private database on the test registry server, dropped by close(). */
export interface TestDb {
  uri: string;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** openTestDb creates a fresh database for one test file. */
export async function openTestDb(): Promise<TestDb> {
  const base = new URL(testEnv().mongodbUri);
  base.pathname = `/${uniqueName('t')}`;
  const uri = base.toString();
  const client = await new MongoClient(uri).connect();
  const db = client.db();
  return {
    uri,
    client,
    db,
    close: async () => {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

/** TestTemporal is a client and a running worker on a private task queue. */
export interface TestTemporal {
  client: Client;
  taskQueue: string;
  worker: Worker;
  supervisor?: SlipwayWorker['supervisor'];
  close(): Promise<void>;
}

/** startTestWorker runs the real Slipway worker against the test Temporal server. */
export async function startTestWorker(
  db: Db,
  options: Pick<SlipwayWorkerOptions, 'extensions' | 'codecKeys' | 'tracing' | 'metrics' | 'localServingDir' | 'trustedKeys' | 'policy' | 'auditSigner' | 'lineRecheckMs' | 'sandbox' | 'pluginSettings' | 'publicUrl'> = {},
): Promise<TestTemporal> {
  const { temporalAddress } = testEnv();
  const taskQueue = uniqueName('tq');
  const { worker, close: closeWorker, supervisor } = await createSlipwayWorker({
    temporalAddress,
    namespace: 'default',
    taskQueue,
    db,
    trustedKeys: TEST_SIGNER.trusted(),
    ...options,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({
    connection,
    namespace: 'default',
    dataConverter: dataConverterFor(options.codecKeys, 'default'),
    ...(options.tracing ? { interceptors: clientTracingInterceptors() } : {}),
  });
  return {
    client,
    taskQueue,
    worker,
    supervisor,
    close: async () => {
      worker.shutdown();
      await running;
      await closeWorker();
      await connection.close();
    },
  };
}

/** TEST_SIGNER stands for the API's signing key in this test process; test workers trust it by default. */
export const TEST_SIGNER = Signer.generate();

/**
 * A Slipway worker in its own process, so tests can SIGKILL it mid-deploy or
 * mid-bake and start another. It adds a `slow-registry` target: the registry
 * target behind a marker write and a heartbeating pause, so the test knows a
 * deploy is in flight.
 *
 * env: TEMPORAL_ADDRESS, SLIPWAY_MONGODB_URI, SLIPWAY_TASK_QUEUE, SLOW_DEPLOY_MS
 */
import { Context } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { registryTarget } from '../../targets/registry/registry-target';
import type { DeployTarget } from '../../targets/types';
import { connectRegistryDb } from '../../registry/db';
import { Registry } from '../../registry/registry';
import { createSlipwayWorker } from '../../workers/worker';

async function main(): Promise<void> {
  const { TEMPORAL_ADDRESS, SLIPWAY_MONGODB_URI, SLIPWAY_TASK_QUEUE } = process.env;
  if (!TEMPORAL_ADDRESS || !SLIPWAY_MONGODB_URI || !SLIPWAY_TASK_QUEUE) throw new Error('worker-process needs TEMPORAL_ADDRESS, SLIPWAY_MONGODB_URI, SLIPWAY_TASK_QUEUE');
  const slowMs = Number(process.env.SLOW_DEPLOY_MS ?? 3000);
  const registryDb = await connectRegistryDb(SLIPWAY_MONGODB_URI);
  const inner = registryTarget(new Registry(registryDb.db));
  const attempts = registryDb.db.collection('deploy_attempts');
  const slow: DeployTarget = {
    name: 'slow-registry',
    supportsWeights: false,
    async deploy(req) {
      await attempts.insertOne({ opKey: req.opKey, pid: process.pid, at: new Date() });
      for (let waited = 0; waited < slowMs; waited += 250) {
        Context.current().heartbeat();
        await sleep(250);
      }
      return inner.deploy(req);
    },
    undo: (req) => inner.undo(req),
  };
  const { worker, close } = await createSlipwayWorker({
    temporalAddress: TEMPORAL_ADDRESS,
    namespace: 'default',
    taskQueue: SLIPWAY_TASK_QUEUE,
    db: registryDb.db,
    extensions: { targets: [slow] },
  });
  process.on('SIGTERM', () => worker.shutdown());
  process.stdout.write(`worker ready ${process.pid}\n`);
  await worker.run();
  await close();
  await registryDb.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

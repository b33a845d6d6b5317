/**
 * Helpers for release tests: a pipelines folder, registered versions, and
 * waiting on a release's status query without sleeping blindly.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from '../../registry/registry';
import { ReleaseService } from '../../client/releases';
import type { ReleaseState } from '../../workflows/release/api';
import { REPO_ROOT } from '../../devstack/stack';
import { openTestDb, startTestWorker, testEnv, uniqueName, type TestDb, type TestTemporal } from './stack';

const execFileAsync = promisify(execFile);

/** writePipelines puts YAML pipelines in a fresh temp folder and returns it. */
export async function writePipelines(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-pipelines-'));
  for (const [name, yaml] of Object.entries(files)) await fs.writeFile(path.join(dir, `${name}.yaml`), yaml);
  return dir;
}

/** registerVersions registers versions of a fresh model with the given metrics; returns the model name. */
export async function registerModel(registry: Registry, versions: Record<string, Record<string, number>>): Promise<string> {
  const model = uniqueName('m').replace(/_/g, '-');
  for (const [version, metrics] of Object.entries(versions)) {
    await registry.registerVersion(
      { model, version, artifact: { uri: `s3://models/${model}/${version}.onnx`, sha256: 'c'.repeat(64) }, metrics, codeCommit: 'abc' },
      'ci',
    );
  }
  return model;
}

/** waitForState polls the status query until the predicate holds, failing with the last state after timeoutMs. */
export async function waitForState(
  service: ReleaseService,
  releaseId: string,
  predicate: (s: ReleaseState) => boolean,
  timeoutMs = 30_000,
): Promise<ReleaseState> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseState | undefined;
  while (Date.now() < deadline) {
    try {
      last = await service.status(releaseId);
      if (predicate(last)) return last;
    } catch {
      // not started yet
    }
    await sleep(100);
  }
  throw new Error(`release ${releaseId} did not reach the expected state in ${timeoutMs}ms; last: ${JSON.stringify(last, null, 1)?.slice(0, 3000)}`);
}

/** waitFor polls a probe every 100 ms until it answers something, failing after timeoutMs. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** temporalCli runs the real `temporal` CLI against the test server, as an operator or the Web UI would. */
export async function temporalCli(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(path.join(REPO_ROOT, '.slipway', 'tools', 'temporal'), [...args, '--address', testEnv().temporalAddress, '--namespace', 'default']);
  return stdout;
}

/**
 * recordHistory saves a finished workflow's history under test/replay/histories
 * when SLIPWAY_RECORD_HISTORIES=1, so replay tests guard running releases
 * against non-deterministic workflow changes.
 */
export async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.SLIPWAY_RECORD_HISTORIES !== '1') return;
  // The same JSON the Web UI's "download history" and `temporal workflow show -o json` give.
  const history = await temporalCli(['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']);
  const dir = path.join(REPO_ROOT, 'test', 'replay', 'histories');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `${name}.json`), history);
}

/** ReleaseHarness is a test registry database, a worker on it, and a direct-mode release service reading the given pipelines. */
export interface ReleaseHarness {
  t: TestDb;
  temporal: TestTemporal;
  service: ReleaseService;
  close(): Promise<void>;
}

/** openReleaseHarness opens the parts most release tests start from; close() stops the worker, then the database. */
export async function openReleaseHarness(pipelines: Record<string, string>, worker: Parameters<typeof startTestWorker>[1] = {}): Promise<ReleaseHarness> {
  const t = await openTestDb();
  const temporal = await startTestWorker(t.db, worker);
  const service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(pipelines), bootstrapFromFolder: true });
  return {
    t,
    temporal,
    service,
    close: async () => {
      await temporal.close();
      await t.close();
    },
  };
}

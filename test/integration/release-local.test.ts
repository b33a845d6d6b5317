import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultGates } from '../../gates';
import { biasGate } from '../../gates/bias';
import { evalGate } from '../../gates/eval';
import type { Gate } from '../../gates/types';
import { localHealthSource } from '../../health/local/local-health';
import { localTarget } from '../../targets/local/local-target';
import { ReleaseService } from '../../client/releases';
import { Registry } from '../../registry/registry';
import { TrafficGenerator, loadTrafficRows } from '../../demo/traffic';
import { REPO_ROOT, sha256Hex } from '../../serving/model-runtime';
import { LocalServingSupervisor } from '../../serving/supervisor';
import { writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  local: `
name: local
stages:
  - env: dev
    target: local
    healthSource: local
    gates:
      - type: eval
        dataset: models/fraud/data/holdout.csv
        require: { auc: ">= 0.8", f1: ">= 0.55" }
        noWorseThanLive: { auc: 0.02 }
      - type: bias
        dataset: models/fraud/data/holdout.csv
        maxDemographicParityDiff: 0.1
        maxEqualOpportunityDiff: 0.1
  - env: prod
    target: local
    healthSource: local
    strategy: { canary: { steps: [50, 100], interval: 4s, analysis: { maxErrorRate: 0.02 } } }
`,
  'dev-only': 'name: dev-only\nstages:\n  - env: dev\n    target: local\n',
};

const modelFile = (v: string) => path.join(REPO_ROOT, 'models', 'fraud', v, 'model.onnx');

describe('releases on the local serving target, with computing gates and canary analysis', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let supervisor: LocalServingSupervisor;
  let traffic: TrafficGenerator;
  let runDir: string;
  let model: string;

  const serving = async (env: string) => {
    const state = await (await supervisor.find(model, env))?.client.state();
    return { stable: state?.stable?.version ?? null, canary: state?.canary?.version ?? null };
  };
  const live = async (env: string) => (await service.registry.getLive(model, env))?.version ?? null;

  before(async () => {
    t = await openTestDb();
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-release-local-'));
    supervisor = new LocalServingSupervisor({ runDir });
    temporal = await startTestWorker(t.db, {
      extensions: {
        targets: [localTarget({ registry: new Registry(t.db), supervisor })],
        // Fail closed: a canary judged on a handful of requests proves nothing.
        healthSources: [localHealthSource({ supervisor, minRequests: 30 })],
        gates: new Map<string, Gate>([...defaultGates(), [evalGate.type, evalGate as Gate], [biasGate.type, biasGate as Gate]]),
      },
    });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true });
    model = uniqueName('fraud').replace(/_/g, '-');
    for (const v of ['v1', 'v2', 'v3']) {
      const metrics = JSON.parse(fs.readFileSync(path.join(path.dirname(modelFile(v)), 'metrics.json'), 'utf8')) as Record<string, number>;
      const sha256 = sha256Hex(fs.readFileSync(modelFile(v)));
      // v3 by file:// URL, the others by path in the repository: the target takes both.
      const uri = v === 'v3' ? `file://${modelFile(v)}` : `models/fraud/${v}/model.onnx`;
      await service.registry.registerVersion({ model, version: v, artifact: { uri, sha256, format: 'onnx' }, metrics }, 'ci');
    }
    traffic = new TrafficGenerator(supervisor, model, await loadTrafficRows());
    traffic.start();
  });
  after(async () => {
    await traffic?.stop();
    await temporal?.close();
    await supervisor?.stopAll();
    await t?.close();
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('promotes v1 through dev and a prod canary after its eval and bias gates pass', { timeout: 60_000 }, async () => {
    const started = await service.start({ model, version: 'v1', pipeline: 'local', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    const dev = final.stages[0]!;
    assert.deepEqual(dev.gates.map((g) => [g.type, g.passed]), [['eval', true], ['bias', true]]);
    const prod = final.stages[1]!;
    assert.equal(prod.canaryWeight, 100);
    assert.equal(prod.healthChecks.length, 1);
    assert.equal(prod.healthChecks[0]?.healthy, true, prod.healthChecks[0]?.detail);
    assert.deepEqual([await live('dev'), await live('prod')], ['v1', 'v1']);
    assert.deepEqual(await serving('prod'), { stable: 'v1', canary: null });
  });

  it('stops v2 at its eval gate before anything is deployed', { timeout: 60_000 }, async (tc) => {
    const started = await service.start({ model, version: 'v2', pipeline: 'local', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'failed');
    assert.match(final.outcome?.reason ?? '', /gate failed at dev — eval: auc = 0\.\d+ does not satisfy >= 0\.8/);
    assert.deepEqual(final.compensations, [], 'nothing was deployed, so nothing is undone');
    assert.deepEqual(await serving('dev'), { stable: 'v1', canary: null });
    tc.diagnostic(final.outcome?.reason ?? '');
  });

  it('catches v3 in the prod canary under live traffic and rolls every environment back to v1', { timeout: 60_000 }, async (tc) => {
    const started = await service.start({ model, version: 'v3', pipeline: 'local', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'rolled_back', final.summary);
    assert.deepEqual(final.stages[0]?.gates.map((g) => [g.type, g.passed]), [['eval', true], ['bias', true]], 'v3 passes offline');
    const reason = final.outcome?.reason ?? '';
    const rate = /canary analysis failed at 50% in prod: error rate (\d+\.\d)% > max 2\.0%/.exec(reason);
    assert.ok(rate, reason);
    assert.ok(Number(rate[1]) > 2, reason);
    assert.deepEqual(
      final.compensations.map((c) => [c.env, c.status, c.restoredTo]),
      [['dev', 'done', 'v1'], ['prod', 'done', 'v1']],
    );
    assert.deepEqual([await live('dev'), await live('prod')], ['v1', 'v1']);
    assert.deepEqual([await serving('dev'), await serving('prod')], [{ stable: 'v1', canary: null }, { stable: 'v1', canary: null }]);
    tc.diagnostic(`canary verdict: ${final.stages[1]?.healthChecks[0]?.detail}`);
    tc.diagnostic(`traffic so far: ${JSON.stringify(traffic.tally)}`);
  });

  it('rolls dev back on the model server, not only the live pointer, when v3 is released there and then rolled back', { timeout: 60_000 }, async () => {
    const started = await service.start({ model, version: 'v3', pipeline: 'dev-only', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    assert.deepEqual(await serving('dev'), { stable: 'v3', canary: null });
    const rollback = await service.rollback({ model, env: 'dev', requestedBy: 'oncall', reason: 'v3 misses refunds' });
    assert.deepEqual(await rollback.result, { model, env: 'dev', from: 'v3', to: 'v1', status: 'succeeded' });
    assert.equal(await live('dev'), 'v1');
    assert.deepEqual(await serving('dev'), { stable: 'v1', canary: null }, 'the model server serves v1 again');
    assert.deepEqual((await service.registry.deploymentHistory(model, 'dev', 2)).map((d) => [d.version, d.target]), [['v1', 'local'], ['v3', 'local']]);
  });
});

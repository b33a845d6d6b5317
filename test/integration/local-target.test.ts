import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { localHealthSource, parsePrometheusText, versionStats } from '../../health/local/local-health';
import { localTarget } from '../../targets/local/local-target';
import { Registry } from '../../registry/registry';
import { REPO_ROOT, readCsvDataset, sha256Hex } from '../../serving/model-runtime';
import { LocalServingSupervisor, ModelServerError, type ModelServerClient } from '../../serving/supervisor';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

const ENV = 'prod';
const modelFile = (v: string) => path.join(REPO_ROOT, 'models', 'fraud', v, 'model.onnx');
const sha = (v: string) => sha256Hex(fs.readFileSync(modelFile(v)));

type Row = Record<string, number>;

/** Live traffic from the committed sample, one row per request, as a caller would send it. */
async function trafficRows(): Promise<Row[]> {
  const data = await readCsvDataset(path.join(REPO_ROOT, 'models', 'fraud', 'data', 'traffic-sample.csv'));
  const features = data.columns.filter((c) => c !== 'group');
  return data.rows.map((r) => Object.fromEntries(features.map((f) => [f, r[data.columns.indexOf(f)] as number])));
}

/** Posts each row as its own request, a few at a time; counts answers by version and failures by status. */
async function send(client: ModelServerClient, rows: Row[], concurrency = 8): Promise<{ byVersion: Record<string, number>; failed: Record<number, number> }> {
  const byVersion: Record<string, number> = {};
  const failed: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < rows.length) {
        const row = rows[next++] as Row;
        try {
          const answer = await client.predict([row]);
          byVersion[answer.version] = (byVersion[answer.version] ?? 0) + 1;
        } catch (err) {
          if (!(err instanceof ModelServerError)) throw err;
          failed[err.status] = (failed[err.status] ?? 0) + 1;
        }
      }
    }),
  );
  return { byVersion, failed };
}

describe('local serving target', () => {
  let t: TestDb;
  let registry: Registry;
  let supervisor: LocalServingSupervisor;
  let runDir: string;
  let model: string;
  let traffic: Row[];
  const req = (version: string, opKey: string, weight?: number) => ({ opKey, releaseId: 'rel-test', model, env: ENV, version, by: 'test', ...(weight === undefined ? {} : { weight }) });

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-local-serving-'));
    supervisor = new LocalServingSupervisor({ runDir });
    model = uniqueName('fraud').replace(/_/g, '-');
    traffic = await trafficRows();
    // v1 by repo-relative path, v3 by file:// URL; "v1-tampered" claims v1's bytes under v2's digest.
    await registry.registerVersion({ model, version: 'v1', artifact: { uri: 'models/fraud/v1/model.onnx', sha256: sha('v1') } }, 'ci');
    await registry.registerVersion({ model, version: 'v3', artifact: { uri: `file://${modelFile('v3')}`, sha256: sha('v3') } }, 'ci');
    await registry.registerVersion({ model, version: 'v1-tampered', artifact: { uri: 'models/fraud/v1/model.onnx', sha256: sha('v2') } }, 'ci');
  });
  after(async () => {
    await supervisor?.stopAll();
    await t?.close();
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('refuses to deploy an artifact whose sha256 is not the registered one', async () => {
    const target = localTarget({ registry, supervisor });
    await assert.rejects(target.deploy(req('v1-tampered', 'op-tampered')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'ArtifactDigestMismatch');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, new RegExp(`digest mismatch.*registered sha256 ${sha('v2')}`));
      assert.ok(!err.message.includes(sha('v1')), 'the digest of the bytes found is not told');
      return true;
    });
    const server = await supervisor.ensure(model, ENV);
    assert.deepEqual(await server.client.state().then((s) => [s.stable, s.canary]), [null, null], 'nothing loaded');
    assert.equal(await registry.getLive(model, ENV), null, 'the live pointer did not move');
    await assert.rejects(server.client.predict([traffic[0] as Row]), (err: unknown) => err instanceof ModelServerError && err.status === 503);
  });

  it('serves v1, then canaries v3 at 50% and sees v3 fail on the refunds in live traffic', async (tc) => {
    const target = localTarget({ registry, supervisor });
    const health = localHealthSource({ supervisor });
    const since = new Date().toISOString();
    assert.deepEqual(await target.deploy(req('v1', 'op-v1', 100)), { previousVersion: null });
    assert.equal((await registry.getLive(model, ENV))?.version, 'v1');
    assert.deepEqual(await target.deploy(req('v3', 'op-v3', 50)), { previousVersion: 'v1' });
    assert.equal((await registry.getLive(model, ENV))?.version, 'v1', 'a canary step leaves the live pointer on the stable version');

    const server = await supervisor.ensure(model, ENV);
    const { byVersion, failed } = await send(server.client, traffic);
    const refunds = traffic.filter((r) => (r.amount as number) < 0).length;
    const samples = parsePrometheusText(await server.client.metricsText());
    const v1 = versionStats(samples, 'v1');
    const v3 = versionStats(samples, 'v3');

    // Only v3 fails, always with 500 (NaN score), and only on refunds.
    assert.deepEqual(Object.keys(failed), ['500']);
    assert.equal(v3.errors, failed[500]);
    assert.equal(v1.errors, 0);
    assert.equal(v1.requests, byVersion.v1);
    assert.equal(v3.requests, (byVersion.v3 ?? 0) + (failed[500] ?? 0));
    assert.ok(v3.errors <= refunds && v3.errors > refunds * 0.3, `v3 failed ${v3.errors} of ${refunds} refunds' worth`);
    const canaryShare = v3.requests / traffic.length;
    assert.ok(Math.abs(canaryShare - 0.5) < 0.06, `canary got ${(canaryShare * 100).toFixed(1)}% of ${traffic.length} requests at weight 50`);
    assert.ok(v3.errorRate > 0.04 && v3.errorRate < 0.15, `v3 error rate ${v3.errorRate}`);

    const verdict = await health.check({ model, env: ENV, version: 'v3', since, maxErrorRate: 0.02, maxLatencyP99Ms: 1000 });
    tc.diagnostic(`canary share ${(canaryShare * 100).toFixed(1)}%; health verdict: ${verdict.detail}`);
    assert.equal(verdict.healthy, false, verdict.detail);
    assert.match(verdict.detail, /^error rate \d+\.\d% > max 2\.0% — v3 \(canary\): \d+\/\d+ requests failed .*baseline v1: 0\/\d+ failed/);
    const stable = await health.check({ model, env: ENV, version: 'v1', since, maxErrorRate: 0.02, maxLatencyP99Ms: 1000 });
    assert.equal(stable.healthy, true, stable.detail);

    // Prediction drift against the stable baseline is judged when a limit is given.
    const means = /mean score (\d\.\d+); baseline v1: .* mean score (\d\.\d+)/.exec(verdict.detail);
    assert.ok(means, verdict.detail);
    const drift = Math.abs(Number(means[1]) - Number(means[2]));
    const strict = await health.check({ model, env: ENV, version: 'v3', since, maxPredictionDrift: Math.max(0, drift - 0.002) });
    assert.equal(strict.healthy, false, strict.detail);
    assert.match(strict.detail, /^prediction drift 0\.\d{3} from v1 > max /);
    const lenient = await health.check({ model, env: ENV, version: 'v3', since, maxPredictionDrift: drift + 0.01 });
    assert.equal(lenient.healthy, true, lenient.detail);
  });

  it('honours a shifted weight over many requests', async () => {
    const server = await supervisor.ensure(model, ENV);
    await server.client.setWeight(20);
    const good = traffic.filter((r) => (r.amount as number) > 0).slice(0, 800);
    const { byVersion, failed } = await send(server.client, [...good, ...good]);
    assert.deepEqual(failed, {}, 'no refunds sent, so v3 answers too');
    const share = (byVersion.v3 ?? 0) / (good.length * 2);
    assert.ok(Math.abs(share - 0.2) < 0.05, `canary got ${(share * 100).toFixed(1)}% of ${good.length * 2} requests at weight 20`);
  });

  it('undoes the canary back to v1, and a repeated undo changes nothing', async () => {
    const target = localTarget({ registry, supervisor });
    const server = await supervisor.ensure(model, ENV);
    const undo = { opKey: 'op-v3', releaseId: 'rel-test', model, env: ENV, failedVersion: 'v3', by: 'test', reason: 'canary failed' };
    assert.deepEqual(await target.undo(undo), { restoredTo: 'v1' });
    const after = await server.client.state();
    assert.equal(after.stable?.version, 'v1');
    assert.equal(after.canary, null);
    assert.equal(after.weight, 0);
    assert.deepEqual(await target.undo(undo), { restoredTo: 'v1' });
    assert.deepEqual(await server.client.state(), after, 'the repeat is a no-op');
    const { byVersion, failed } = await send(server.client, traffic.slice(0, 200));
    assert.deepEqual([byVersion, failed], [{ v1: 200 }, {}], 'v1 takes all traffic, refunds included');
    assert.equal((await registry.getLive(model, ENV))?.version, 'v1');
  });

  it('repeats a deploy with the same opKey as a no-op, and undoes a promoted version by reloading the one before', async () => {
    const target = localTarget({ registry, supervisor });
    const server = await supervisor.ensure(model, ENV);
    const before = await server.client.state();
    const moves = await registry.deployments.countDocuments({ model });
    assert.deepEqual(await target.deploy(req('v1', 'op-v1', 100)), { previousVersion: null }, 'the first answer, again');
    assert.deepEqual(await server.client.state(), before, 'v1 not reloaded');
    assert.equal(await registry.deployments.countDocuments({ model }), moves, 'no second pointer move');

    assert.deepEqual(await target.deploy(req('v3', 'op-v3-full', 100)), { previousVersion: 'v1' });
    assert.equal((await server.client.state()).stable?.version, 'v3');
    assert.equal((await registry.getLive(model, ENV))?.version, 'v3', 'at 100% the live pointer follows');
    const undone = await target.undo({ opKey: 'op-v3-full', releaseId: 'rel-test', model, env: ENV, failedVersion: 'v3', by: 'test', reason: 'bake failed' });
    assert.deepEqual(undone, { restoredTo: 'v1' });
    assert.equal((await server.client.state()).stable?.version, 'v1');
    assert.equal((await registry.getLive(model, ENV))?.version, 'v1');
  });

  it('comes back serving the same versions after the server process dies', async () => {
    const first = await supervisor.ensure(model, ENV);
    const servedBefore = (await first.client.state()).stable?.version;
    first.process.killSync();
    await new Promise((resolve) => first.process.child.once('exit', resolve));
    assert.equal(await supervisor.find(model, ENV), undefined, 'a dead server is not offered to health checks');
    const second = await supervisor.ensure(model, ENV);
    assert.notEqual(second.process.child.pid, first.process.child.pid);
    assert.equal((await second.client.state()).stable?.version, servedBefore);
    // The op log survived too: the earlier undo is still a no-op.
    const target = localTarget({ registry, supervisor });
    assert.deepEqual(await target.undo({ opKey: 'op-v3', releaseId: 'rel-test', model, env: ENV, failedVersion: 'v3', by: 'test', reason: 'again' }), { restoredTo: 'v1' });
  });
});

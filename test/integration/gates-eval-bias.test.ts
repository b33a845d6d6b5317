import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PipelineError, parsePipeline } from '../../domain/pipeline';
import { biasGate } from '../../gates/bias';
import { biasGateSchema } from '../../gates/bias/schema';
import { evalGate } from '../../gates/eval';
import { evalGateSchema } from '../../gates/eval/schema';
import type { GateContext } from '../../gates/types';
import { Registry } from '../../registry/registry';
import type { VersionDoc } from '../../registry/types';
import { REPO_ROOT, sha256Hex } from '../../serving/model-runtime';
import type { GateResult } from '../../workflows/release/api';
import { testSandbox } from '../support/gate-context';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

const execFileAsync = promisify(execFile);
const FRAUD = path.join(REPO_ROOT, 'models', 'fraud');
const HOLDOUT = 'models/fraud/data/holdout.csv';
const sha = (v: string) => sha256Hex(fs.readFileSync(path.join(FRAUD, v, 'model.onnx')));
const registered = (v: string) => JSON.parse(fs.readFileSync(path.join(FRAUD, v, 'metrics.json'), 'utf8')) as Record<string, number>;
const check = (result: GateResult, metric: string) => {
  const found = result.checks.find((c) => c.metric === metric);
  assert.ok(found, `no ${metric} check in ${JSON.stringify(result)}`);
  return found;
};

describe('eval and bias gates on the committed fraud models', () => {
  let t: TestDb;
  let registry: Registry;
  let model: string;
  const versions: Record<string, VersionDoc> = {};
  const ctx = (candidate: string, live: string | null = null): GateContext => ({
    releaseId: 'rel-gates',
    env: 'dev',
    candidate: versions[candidate] as VersionDoc,
    live: live === null ? null : (versions[live] as VersionDoc),
    registry,
    // The committed models, and the datasets tests write to the temp folder.
    sandbox: testSandbox({ SLIPWAY_FILE_ROOTS: [path.join(REPO_ROOT, 'models'), os.tmpdir()].join(path.delimiter) }),
  });

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
    model = uniqueName('fraud').replace(/_/g, '-');
    for (const v of ['v1', 'v2', 'v3']) {
      const { version } = await registry.registerVersion({ model, version: v, artifact: { uri: `models/fraud/${v}/model.onnx`, sha256: sha(v) } }, 'ci');
      versions[v] = version;
    }
    versions.tampered = (await registry.registerVersion({ model, version: 'tampered', artifact: { uri: 'models/fraud/v2/model.onnx', sha256: sha('v1') } }, 'ci')).version;
  });
  after(async () => {
    await t?.close();
  });

  it('passes v1, with the accuracy, AUC and F1 it measures on held-out rows equal to its metrics.json', async (tc) => {
    const config = evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { accuracy: '>= 0.8', auc: '>= 0.85', f1: '>= 0.6' } });
    const result = await evalGate.run(ctx('v1'), config);
    assert.equal(result.passed, true, JSON.stringify(result));
    const expected = registered('v1');
    for (const metric of ['accuracy', 'auc', 'f1']) assert.equal(check(result, metric).value, expected[metric], metric);
    assert.equal(check(result, 'non_finite_scores').value, 0);
    assert.match(check(result, 'auc').reason, /auc = 0\.\d+ satisfies >= 0\.85 \(on 2000 rows of holdout\.csv\)/);
    tc.diagnostic(`v1: ${result.checks.map((c) => `${c.metric}=${c.value}`).join(' ')}`);
  });

  it('fails v2 with the numbers that sank it, against thresholds and against live v1', async (tc) => {
    const config = evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { auc: '>= 0.8', f1: '>= 0.5' }, noWorseThanLive: { auc: 0.02 } });
    const result = await evalGate.run(ctx('v2', 'v1'), config);
    assert.equal(result.passed, false);
    const auc = check(result, 'auc');
    assert.equal(auc.passed, false);
    assert.ok((auc.value as number) < 0.7, `v2 auc ${auc.value}`);
    assert.match(auc.reason, /auc = 0\.\d+ does not satisfy >= 0\.8/);
    assert.equal(check(result, 'f1').passed, false);
    const versusLive = result.checks.filter((c) => c.metric === 'auc')[1];
    assert.equal(versusLive?.passed, false);
    assert.match(versusLive?.reason ?? '', new RegExp(`worse than live ${registered('v1').auc}, more than the allowed 0\\.02 .*live v1`));
    tc.diagnostic(`v2: ${result.checks.map((c) => `${c.metric}=${c.value} (${c.passed ? 'pass' : 'FAIL'})`).join(' ')}`);
  });

  it('passes v3 offline, even against live v1: the held-out data has no refunds', async () => {
    const config = evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { auc: '>= 0.85' }, noWorseThanLive: { auc: 0.01, f1: 0.01 } });
    const result = await evalGate.run(ctx('v3', 'v1'), config);
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.ok((check(result, 'auc').value as number) > registered('v1').auc!, 'v3 scores better offline than v1');
  });

  it('fails a model that gives no score for some rows, when the data holds that slice', async () => {
    // The held-out rows plus the same rows as refunds: v3's Log turns those into NaN.
    const lines = fs.readFileSync(path.join(REPO_ROOT, HOLDOUT), 'utf8').trim().split('\n');
    const refunds = lines.slice(1, 101).map((l) => `-${l}`);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-eval-')), 'with-refunds.csv');
    fs.writeFileSync(file, `${[...lines, ...refunds].join('\n')}\n`);
    const config = evalGateSchema.parse({ type: 'eval', dataset: file, require: { auc: '>= 0.5' } });
    const v3 = await evalGate.run(ctx('v3'), config);
    assert.equal(v3.passed, false);
    assert.deepEqual([check(v3, 'non_finite_scores').value, check(v3, 'non_finite_scores').reason], [100, '100 of 2100 rows of with-refunds.csv got no finite score']);
    assert.equal((await evalGate.run(ctx('v1'), config)).passed, true, 'v1 scores refunds');
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('refuses to evaluate an artifact whose digest is not the registered one', async () => {
    const config = evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { auc: '>= 0.5' } });
    const result = await evalGate.run(ctx('tampered'), config);
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /digest mismatch .*v2\/model\.onnx: its bytes do not hash to the registered sha256 [0-9a-f]{64}/);
    assert.equal(result.error?.match(/[0-9a-f]{64}/g)?.length, 1, 'the digest of the bytes found is not told');
  });

  it('measures the parity and opportunity gaps of v1 across the sensitive group', async (tc) => {
    const passing = await biasGate.run(ctx('v1'), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxDemographicParityDiff: 0.1, maxEqualOpportunityDiff: 0.1 }));
    assert.equal(passing.passed, true, JSON.stringify(passing));
    const parity = check(passing, 'demographic_parity_diff');
    const opportunity = check(passing, 'equal_opportunity_diff');
    // Group 1 has newer accounts and shops further away, so it is flagged more often, though the model never sees the group.
    assert.ok((parity.value as number) > 0.05 && (parity.value as number) < 0.1, `parity gap ${parity.value}`);
    assert.ok((opportunity.value as number) >= 0 && (opportunity.value as number) < 0.1, `opportunity gap ${opportunity.value}`);
    assert.match(parity.reason, /positive-prediction rate by group: 0 = \d+\.\d% \(n=\d+\), 1 = \d+\.\d% \(n=\d+\); gap 0\.\d+ <= 0\.1 \(2000 rows of holdout\.csv\)/);
    tc.diagnostic(`v1 bias: ${parity.reason} | ${opportunity.reason}`);

    const strict = await biasGate.run(ctx('v1'), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxDemographicParityDiff: 0.05 }));
    assert.equal(strict.passed, false);
    assert.equal(check(strict, 'demographic_parity_diff').value, parity.value);
    assert.match(check(strict, 'demographic_parity_diff').reason, /gap 0\.\d+ > 0\.05/);

    const tooFew = await biasGate.run(ctx('v1'), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxEqualOpportunityDiff: 0.1, minGroupSize: 1000 }));
    assert.equal(tooFew.passed, false, 'no group has 1000 positives: nothing measured, so it cannot pass');
    assert.match(check(tooFew, 'equal_opportunity_diff').reason, /too few to judge.*cannot be measured/);
  });

  it('validates eval and bias configs in pipeline YAML, naming the path', () => {
    const yaml = (gate: string) => `name: p\nstages:\n  - env: dev\n    gates:\n      - ${gate}\n`;
    const ok = parsePipeline(yaml(`{ type: eval, dataset: ${HOLDOUT}, require: { auc: ">= 0.8" } }`), 'p.yaml');
    assert.deepEqual(ok.stages[0]?.gates?.[0], { type: 'eval', dataset: HOLDOUT, label: 'label', threshold: 0.5, require: { auc: '>= 0.8' } });
    assert.throws(() => parsePipeline(yaml(`{ type: eval, dataset: x.csv, require: { rmse: "<= 1" } }`), 'p.yaml'), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /p\.yaml: stages\[0\]\.gates\[0\]\.require\.rmse: is not a metric the eval gate computes/);
      return true;
    });
    assert.throws(() => parsePipeline(yaml('{ type: bias, dataset: x.csv }'), 'p.yaml'), /stages\[0\]\.gates\[0\]: a bias gate checks nothing/);
    assert.throws(() => parsePipeline(yaml('{ type: bias, dataset: x.csv, maxDemographicParityDiff: 2 }'), 'p.yaml'), /maxDemographicParityDiff: must be a fraction between 0 and 1/);
  });

  it('keeps the committed models exactly what models/train.ts builds from its seed', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-train-'));
    try {
      await execFileAsync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'models', 'train.ts'), '--out', out], { cwd: REPO_ROOT });
      const files = ['data/holdout.csv', 'data/traffic-sample.csv', ...['v1', 'v2', 'v3'].flatMap((v) => [`${v}/model.onnx`, `${v}/metrics.json`, `${v}/manifest.json`])];
      for (const f of files) assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(FRAUD, f))), `${f} differs from a fresh build`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

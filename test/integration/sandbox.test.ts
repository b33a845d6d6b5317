/**
 * The worker sandbox end to end, on the real Temporal dev server and the real
 * MongoDB-wire server: `pipeline apply` refuses a secret variable the
 * allowlist does not list, and writes nothing; a worker refuses, and audits,
 * a bound pipeline naming a secret its own allowlist does not list (whatever
 * the API that applied it allowed), and a gate reading a file outside its
 * roots fails the release with the refusal on the audit chain.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { PipelineError } from '../../domain/pipeline';
import { parseSecretEnvAllow } from '../../domain/secret-env';
import { PolicyStore } from '../../registry/policy';
import { REPO_ROOT } from '../../serving/model-runtime';
import { testSandbox } from '../support/gate-context';
import { startLocalServer, type LocalServer } from '../support/local-http';
import { registerModel } from '../support/releases';
import { openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

const SECRET = 'sandbox-secret-0123456789abcdef0123';

describe('the worker sandbox on a real worker and registry', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let verdicts: LocalServer;
  const name = () => uniqueName('sb').replace(/_/g, '-');
  const webhookPipeline = (pipeline: string, secretEnv: string) =>
    `name: ${pipeline}\nstages:\n  - env: dev\n    gates:\n      - { type: webhook, name: check, url: "${verdicts.url}/gate", secretEnv: ${secretEnv}, timeout: 2s }\n`;

  before(async () => {
    t = await openTestDb();
    verdicts = await startLocalServer(() => ({ status: 200, body: { passed: true } }));
    // The worker allows one variable and reads files only from the committed models.
    const sandbox = testSandbox({ SLIPWAY_SECRET_ENV_ALLOW: 'SANDBOX_GATE_SECRET', SLIPWAY_FILE_ROOTS: path.join(REPO_ROOT, 'models') }, { SANDBOX_GATE_SECRET: SECRET, LAX_SECRET: 'lax-value-never-read' });
    temporal = await startTestWorker(t.db, { sandbox });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, bootstrapFromFolder: false, secretEnvAllow: parseSecretEnvAllow('SANDBOX_GATE_SECRET') });
  });
  after(async () => {
    await temporal?.close();
    await verdicts?.close();
    await t?.close();
  });

  it('refuses on apply a pipeline naming a secret variable the allowlist does not list, naming the path and the setting, and writes nothing', async () => {
    const store = new PolicyStore(t.db, { secretEnvAllow: parseSecretEnvAllow('SANDBOX_GATE_SECRET') });
    const pipeline = name();
    for (const variable of ['LAX_SECRET', 'SLIPWAY_MONGODB_URI', 'TEMPORAL_API_KEY']) {
      await assert.rejects(store.applyPipeline(webhookPipeline(pipeline, variable), 'p.yaml', 'ada'), (err: unknown) => {
        assert.ok(err instanceof PipelineError, String(err));
        assert.deepEqual(err.issues.map((i) => i.path), ['stages[0].gates[0].secretEnv']);
        assert.match(err.message, new RegExp(`^p\\.yaml: stages\\[0\\]\\.gates\\[0\\]\\.secretEnv: ${variable} .*SLIPWAY_SECRET_ENV_ALLOW`));
        return true;
      });
    }
    assert.equal((await store.listPipelines()).some((p) => p.name === pipeline), false, 'no pipeline listed');
    assert.equal(await store.pipelines.countDocuments({ name: pipeline }), 0, 'no content stored');
    assert.equal(await store.audit.events.countDocuments({ 'subject.pipeline': pipeline }), 0, 'no audit event of an apply');
    const allowed = await store.applyPipeline(webhookPipeline(pipeline, 'SANDBOX_GATE_SECRET'), 'p.yaml', 'ada');
    assert.equal(allowed.revision, 1);
  });

  it('fails a release whose bound pipeline names a secret the worker does not allow, before any gate runs, and audits the refusal', { timeout: 60_000 }, async () => {
    // An API configured more loosely than this worker applied and bound it.
    const lax = new PolicyStore(t.db, { secretEnvAllow: parseSecretEnvAllow('LAX_*') });
    const pipeline = name();
    await lax.applyPipeline(webhookPipeline(pipeline, 'LAX_SECRET'), 'lax.yaml', 'ada');
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    await lax.bindModel(model, pipeline, 'ada');
    const hits = verdicts.requests.length;

    const started = await service.start({ model, version: '1', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'failed', final.summary);
    assert.match(final.outcome?.reason ?? '', new RegExp(`pipeline ${pipeline} \\(revision 1\\) names secrets this worker may not read: stages\\[0\\]\\.gates\\[0\\]\\.secretEnv: LAX_SECRET is not in SLIPWAY_SECRET_ENV_ALLOW`));
    assert.ok(!JSON.stringify(final).includes('lax-value-never-read'), 'the value is nowhere in the release');
    assert.equal(verdicts.requests.length, hits, 'no gate called out');
    const audited = await service.registry.audit.events.findOne({ action: 'release.policy_refused', 'subject.releaseId': started.releaseId });
    assert.deepEqual([audited?.actor, audited?.subject.pipeline, audited?.details?.paths], ['worker', pipeline, ['stages[0].gates[0].secretEnv']]);
  });

  it('fails a gate whose dataset is outside the worker\'s file roots, and audits the refusal', { timeout: 60_000 }, async () => {
    const store = new PolicyStore(t.db, { secretEnvAllow: parseSecretEnvAllow('SANDBOX_GATE_SECRET') });
    const pipeline = name();
    // package.json is in the repository, but not under the worker's only root (models/).
    await store.applyPipeline(`name: ${pipeline}\nstages:\n  - env: dev\n    gates:\n      - { type: eval, name: held-out, dataset: package.json, require: { auc: ">= 0.5" } }\n`, 'files.yaml', 'ada');
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    await store.bindModel(model, pipeline, 'ada');

    const started = await service.start({ model, version: '1', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'failed', final.summary);
    const gate = final.stages[0]?.gates[0];
    assert.equal(gate?.passed, false);
    assert.match(gate?.error ?? '', /^refused by the worker: dataset: "package\.json" is outside the folders this worker reads files from \(SLIPWAY_FILE_ROOTS=.*models\); move the file under one of them, or add its folder to SLIPWAY_FILE_ROOTS$/);
    assert.ok(!(gate?.error ?? '').includes('"name"'), 'nothing of the file is quoted');
    const audited = await service.registry.audit.events.findOne({ action: 'gate.refused', 'subject.releaseId': started.releaseId });
    assert.deepEqual([audited?.actor, audited?.details?.gate, audited?.details?.refusal], ['worker', 'held-out', 'FileRefusedError']);
  });
});

/**
 * Pipelines kept on the server (registry/policy.ts) against the real
 * MongoDB-wire server: apply, list, show, revisions, the checks on apply,
 * model bindings, and the audit events each change leaves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { PipelineError } from '../../domain/pipeline';
import { InvalidInputError, NotFoundError } from '../../registry/errors';
import { PolicyStore } from '../../registry/policy';
import { pipelineHash } from '../../registry/registry';
import { registerModel, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

/** pipelineYaml is a small valid pipeline; `extra` goes into its one stage. */
function pipelineYaml(name: string, extra = ''): string {
  return `name: ${name}\nstages:\n  - env: dev\n${extra ? `    ${extra}\n` : ''}  - env: prod\n    approval: { required: 1, approvers: [alice] }\n`;
}

describe('pipelines and model bindings on the server', () => {
  let t: TestDb;
  let store: PolicyStore;
  const pipelineName = () => uniqueName('p').replace(/_/g, '-');
  const modelName = () => uniqueName('m').replace(/_/g, '-');

  before(async () => {
    t = await openTestDb();
    store = new PolicyStore(t.db);
  });
  after(async () => t?.close());

  it('applies a pipeline as revision 1, lists it and shows its text, hash and who applied it', async () => {
    const name = pipelineName();
    const source = pipelineYaml(name);
    const applied = await store.applyPipeline(source, `${name}.yaml`, 'ada');
    assert.equal(applied.name, name);
    assert.equal(applied.revision, 1);
    assert.equal(applied.changed, true);
    assert.match(applied.hash, /^[0-9a-f]{64}$/);

    const listed = (await store.listPipelines()).find((p) => p.name === name);
    assert.deepEqual(listed && { revision: listed.revision, hash: listed.hash, appliedBy: listed.appliedBy, file: listed.file }, { revision: 1, hash: applied.hash, appliedBy: 'ada', file: `${name}.yaml` });

    const shown = await store.showPipeline(name);
    assert.equal(shown.source, source);
    assert.equal(shown.hash, applied.hash);
    assert.equal(shown.pipeline.stages.length, 2);
    assert.equal(pipelineHash(shown.pipeline), applied.hash, 'the stored hash is the hash releases pin');
    assert.ok(shown.appliedAt instanceof Date);
  });

  it('treats applying identical content again as a no-op: same revision, no new audit event', async () => {
    const name = pipelineName();
    const first = await store.applyPipeline(pipelineYaml(name), 'a.yaml', 'ada');
    const eventsBefore = await store.audit.events.countDocuments({ action: 'pipeline.applied', 'subject.pipeline': name });
    const again = await store.applyPipeline(pipelineYaml(name), 'b.yaml', 'bob');
    assert.deepEqual(again, { ...first, changed: false });
    assert.equal(await store.audit.events.countDocuments({ action: 'pipeline.applied', 'subject.pipeline': name }), eventsBefore);
    assert.equal((await store.showPipeline(name)).appliedBy, 'ada');
  });

  it('bumps the revision when the content changes, keeps the old one readable, and audits each change in the global chain', async () => {
    const name = pipelineName();
    const one = await store.applyPipeline(pipelineYaml(name), 'p.yaml', 'ada');
    const two = await store.applyPipeline(pipelineYaml(name, 'bake: 30s'), 'p.yaml', 'bob');
    assert.equal(two.revision, 2);
    assert.equal(two.changed, true);
    assert.notEqual(two.hash, one.hash);

    assert.equal((await store.showPipeline(name)).revision, 2);
    const old = await store.showPipeline(name, 1);
    assert.equal(old.hash, one.hash);
    assert.equal(old.appliedBy, 'ada');
    await assert.rejects(store.showPipeline(name, 3), NotFoundError);

    const events = await store.audit.events.find({ action: 'pipeline.applied', 'subject.pipeline': name }).sort({ seq: 1 }).toArray();
    assert.deepEqual(
      events.map((e) => ({ chain: e.chain, actor: e.actor, details: e.details })),
      [
        { chain: '_global', actor: 'ada', details: { hash: one.hash, revision: 1, previousHash: null, file: 'p.yaml' } },
        { chain: '_global', actor: 'bob', details: { hash: two.hash, revision: 2, previousHash: one.hash, file: 'p.yaml' } },
      ],
    );
    assert.equal((await store.audit.verify()).ok, true);
  });

  it('refuses an unknown gate type, deploy target or health source, naming the file and the path, and stores nothing', async () => {
    const name = pipelineName();
    const refusal = async (extra: string) => {
      const err = await store.applyPipeline(pipelineYaml(name, extra), 'bad.yaml', 'ada').then(
        () => assert.fail('the pipeline was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PipelineError, String(err));
      return err.issues;
    };
    const gate = await refusal('gates: [{ type: vibes }]');
    assert.equal(gate[0]?.file, 'bad.yaml');
    assert.equal(gate[0]?.path, 'stages[0].gates[0].type');
    assert.match(gate[0]?.reason ?? '', /unknown gate type "vibes"/);

    assert.deepEqual(await refusal('target: k8s-canary'), [
      { file: 'bad.yaml', path: 'stages[0].target', reason: 'unknown deploy target "k8s-canary"; known deploy targets: local, registry, webhook' },
    ]);
    const health = await refusal('healthSource: prometheus');
    assert.equal(health[0]?.path, 'stages[0].healthSource');
    assert.match(health[0]?.reason ?? '', /unknown health source "prometheus"; known health sources: local, registry/);
    // A limit its health source cannot judge would be ignored during the bake: refused instead.
    assert.deepEqual(await refusal('bake: 1m\n    healthChecks: { maxPredictionDrift: 0.05 }'), [
      { file: 'bad.yaml', path: 'stages[0].healthChecks.maxPredictionDrift', reason: 'the registry health source cannot judge maxPredictionDrift; remove it, or set healthSource to one that can (local)' },
    ]);

    await assert.rejects(store.showPipeline(name), NotFoundError);
    assert.equal((await store.listPipelines()).some((p) => p.name === name), false);
  });

  it('refuses a canary on the registry target when the pipeline is applied, naming the path', async () => {
    const name = pipelineName();
    // prod names no target, so it deploys to registry, which moves one pointer: "10%" would be 100% at once.
    const source = `name: ${name}\nstages:\n  - env: dev\n  - env: prod\n    strategy: { canary: { steps: [10, 50, 100], interval: 1m } }\n`;
    const err = await store.applyPipeline(source, 'canary.yaml', 'ada').then(
      () => assert.fail('the pipeline was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PipelineError, String(err));
    assert.deepEqual(err.issues, [
      {
        file: 'canary.yaml',
        path: 'stages[1].strategy.canary',
        reason: 'the registry target cannot split traffic, so a canary would send 100% at once; set target to one that splits traffic (local, webhook), or use strategy: direct',
      },
    ]);
    assert.match(err.message, /canary\.yaml: stages\[1\]\.strategy\.canary: the registry target cannot split traffic/);
    await assert.rejects(store.showPipeline(name), NotFoundError);
  });

  it('accepts a canary on a target that splits traffic, built in or declared by a custom worker', async () => {
    const canary = 'strategy: { canary: { steps: [10, 50, 100], interval: 1m } }';
    assert.equal((await store.applyPipeline(pipelineYaml(pipelineName(), `target: webhook\n    ${canary}`), 'w.yaml', 'ada')).revision, 1);
    const custom = new PolicyStore(t.db, { extraPlugins: { targets: ['weighted'], weightedTargets: ['weighted'] } });
    assert.equal((await custom.applyPipeline(pipelineYaml(pipelineName(), `target: weighted\n    ${canary}`), 'w.yaml', 'ada')).revision, 1);
  });

  it('accepts the extra targets a custom worker registers when told about them', async () => {
    const custom = new PolicyStore(t.db, { extraPlugins: { targets: ['weighted'] } });
    const name = pipelineName();
    assert.equal((await custom.applyPipeline(pipelineYaml(name, 'target: weighted'), 'w.yaml', 'ada')).revision, 1);
  });

  it('binds a model only to a pipeline that exists, and audits the binding in the model chain', async () => {
    const model = modelName();
    const name = pipelineName();
    await assert.rejects(store.bindModel(model, name, 'ada'), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.problems[0]?.field, 'pipeline');
      assert.match(err.problems[0]?.reason ?? '', /slipway pipeline apply/);
      return true;
    });
    assert.equal(await store.binding(model), null);
    assert.equal(await store.boundPipeline(model), null);

    const applied = await store.applyPipeline(pipelineYaml(name), 'p.yaml', 'ada');
    const bound = await store.bindModel(model, name, 'ada');
    assert.equal(bound.changed, true);
    assert.equal((await store.binding(model))?.pipeline, name);
    assert.equal((await store.bindModel(model, name, 'bob')).changed, false, 'binding again to the same pipeline changes nothing');

    const other = pipelineName();
    await store.applyPipeline(pipelineYaml(other), 'o.yaml', 'ada');
    await store.bindModel(model, other, 'bob');

    const events = await store.audit.events.find({ action: 'model.bound', 'subject.model': model }).sort({ seq: 1 }).toArray();
    assert.deepEqual(
      events.map((e) => ({ chain: e.chain, actor: e.actor, pipeline: e.details?.pipeline, previousPipeline: e.details?.previousPipeline })),
      [
        { chain: model, actor: 'ada', pipeline: name, previousPipeline: null },
        { chain: model, actor: 'bob', pipeline: other, previousPipeline: name },
      ],
    );
    assert.equal(events[0]?.details?.hash, applied.hash);
  });

  it('gives the current head of the bound pipeline, so a later apply reaches the next release without rebinding', async () => {
    const model = modelName();
    const name = pipelineName();
    await store.applyPipeline(pipelineYaml(name), 'p.yaml', 'ada');
    await store.bindModel(model, name, 'ada');
    const changedSource = pipelineYaml(name, 'bake: 1m');
    const two = await store.applyPipeline(changedSource, 'p.yaml', 'ada');

    const bound = await store.boundPipeline(model);
    assert.ok(bound);
    assert.deepEqual({ name: bound.name, hash: bound.hash, revision: bound.revision, source: bound.source }, { name, hash: two.hash, revision: 2, source: changedSource });
    assert.equal(bound.pipeline.stages[0]?.bake, '1m');
  });

  it('keeps every revision when many different applies of one pipeline race, and identical racing applies make one', async () => {
    const name = pipelineName();
    const racers = Array.from({ length: 8 }, () => new PolicyStore(t.db));
    const results = await Promise.all(racers.map((s, i) => s.applyPipeline(pipelineYaml(name, `bake: ${i + 1}s`), `r${i}.yaml`, `racer-${i}`)));
    assert.deepEqual(results.map((r) => r.revision).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(results.every((r) => r.changed));
    for (const r of results) assert.equal((await store.showPipeline(name, r.revision)).hash, r.hash);
    assert.equal((await store.showPipeline(name)).revision, 8);

    const same = pipelineName();
    const twins = await Promise.all(racers.map((s) => s.applyPipeline(pipelineYaml(same), 'same.yaml', 'twin')));
    assert.equal(twins.filter((r) => r.changed).length, 1);
    assert.ok(twins.every((r) => r.revision === 1));
  });

  it('names the field when a model, pipeline name or revision is malformed', async () => {
    await assert.rejects(store.showPipeline('$where'), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'pipeline');
    await assert.rejects(store.bindModel('a b', 'x', 'ada'), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'model');
    await assert.rejects(store.showPipeline('x', 0), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'revision');
  });
});

describe('release starts and the model binding', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let direct: ReleaseService;
  const folderPipeline = (bake = '') => `name: quick\nstages:\n  - env: dev\n${bake ? `    bake: ${bake}\n` : ''}`;

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    direct = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines({ quick: folderPipeline() }), bootstrapFromFolder: true });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  it('in direct mode applies the named folder pipeline as an unverified CLI user, binds the model to it, and pins its hash', async () => {
    const model = await registerModel(direct.registry, { '1': { accuracy: 0.9 } });
    const started = await direct.start({ model, version: '1', pipeline: 'quick', requestedBy: 'dana' });
    const head = await direct.policy.showPipeline('quick');
    assert.deepEqual({ pipeline: started.pipeline, pipelineHash: started.pipelineHash }, { pipeline: 'quick', pipelineHash: head.hash });
    const binding = await direct.policy.binding(model);
    assert.deepEqual({ pipeline: binding?.pipeline, boundBy: binding?.boundBy }, { pipeline: 'quick', boundBy: 'unverified:cli:dana' });
    assert.equal((await direct.registry.getPipeline(started.pipelineHash))?.name, 'quick', 'the pinned content is in the pipelines collection');
  });

  it('follows the binding when no pipeline is named, taking the head applied after the bind', async () => {
    const model = await registerModel(direct.registry, { '1': { accuracy: 0.9 }, '2': { accuracy: 0.9 } });
    await direct.start({ model, version: '1', pipeline: 'quick', requestedBy: 'dana' });
    const newer = await direct.policy.applyPipeline(folderPipeline('1s'), 'quick.yaml', 'ada');
    const started = await direct.start({ model, version: '2', requestedBy: 'dana' });
    assert.equal(started.pipelineHash, newer.hash);
  });

  it('behind a verified front end refuses an unbound model and a pipeline other than the binding, and never binds', async () => {
    const verified = direct.forVerifiedFrontEnd();
    const model = await registerModel(direct.registry, { '1': { accuracy: 0.9 } });
    await assert.rejects(verified.start({ model, version: '1', pipeline: 'quick', requestedBy: 'rita' }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.problems[0]?.field, 'pipeline');
      assert.match(err.problems[0]?.reason ?? '', new RegExp(`${model} is bound to no pipeline; an admin binds it with \`slipway model bind ${model}`));
      return true;
    });
    assert.equal(await direct.policy.binding(model), null);

    await direct.policy.applyPipeline('name: other\nstages:\n  - env: dev\n', 'other.yaml', 'ada');
    await direct.policy.bindModel(model, 'other', 'ada');
    await assert.rejects(verified.start({ model, version: '1', pipeline: 'quick', requestedBy: 'rita' }), /is bound to other; an admin rebinds with `slipway model bind/);
    const started = await verified.start({ model, version: '1', requestedBy: 'rita' });
    assert.equal(started.pipeline, 'other');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import type { ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestTemporal } from '../support/stack';

const PIPELINES = {
  lenient: `
name: lenient
stages:
  - env: dev
  - env: staging
    bake: 1s
    healthChecks: { interval: 1s, minReports: 0 }
`,
  evidence: `
name: evidence
stages:
  - env: dev
  - env: staging
    bake: 3s
    healthChecks: { interval: 1s, minReports: 2 }
`,
  patient: `
name: patient
stages:
  - env: dev
  - env: staging
    bake: 2s
    healthChecks: { interval: 1s, minReports: 1, onMissing: wait, waitLimit: 30s }
`,
  impatient: `
name: impatient
stages:
  - env: dev
  - env: staging
    bake: 1s
    healthChecks: { interval: 1s, minReports: 1, onMissing: wait, waitLimit: 2s }
`,
};

const GOOD = { accuracy: 0.95 };

describe('a bake without enough health reports does not pass', () => {
  let temporal: TestTemporal;
  let service: ReleaseService;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ temporal, service } = harness);
  });
  after(() => harness?.close());

  const result = async (workflowId: string) => (await temporal.client.workflow.getHandle(workflowId).result()) as ReleaseState;

  it('fails the stage and rolls back when a bake needing 2 reports gets none, and still when it gets 1', async () => {
    const model = await registerModel(service.registry, { v1: GOOD, v2: GOOD, v3: GOOD });
    const first = await service.start({ model, version: 'v1', pipeline: 'lenient', requestedBy: 'ci' });
    assert.equal((await result(first.workflowId)).status, 'succeeded');

    const none = await service.start({ model, version: 'v2', pipeline: 'evidence', requestedBy: 'ci' });
    const final = await result(none.workflowId);
    assert.equal(final.status, 'rolled_back', final.summary);
    assert.match(final.outcome?.reason ?? '', /bake in staging had too few health reports to judge v2: only 0 health report\(s\).*at least 2 \(minReports\)/);
    assert.equal(final.stages[1]?.status, 'rolled_back', 'the staging stage failed and was undone');
    assert.match(final.stages[1]?.error ?? '', /too few health reports/);
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'v1', 'staging rolled back');
    assert.equal((await service.registry.getLive(model, 'dev'))?.version, 'v1', 'dev rolled back');

    const one = await service.start({ model, version: 'v3', pipeline: 'evidence', requestedBy: 'ci' });
    await waitForState(service, one.releaseId, (s) => s.status === 'baking');
    await service.releases.reportHealth({ model, env: 'staging', version: 'v3', healthy: true, errorRate: 0, source: 'test' });
    const short = await result(one.workflowId);
    assert.equal(short.status, 'rolled_back', short.summary);
    assert.match(short.outcome?.reason ?? '', /only 1 health report\(s\)/);
  });

  it('with onMissing: wait, keeps checking after the bake and passes once a report arrives', async () => {
    const model = await registerModel(service.registry, { w1: GOOD });
    const started = await service.start({ model, version: 'w1', pipeline: 'patient', requestedBy: 'ci' });
    const waiting = await waitForState(service, started.releaseId, (s) => /waiting until .* for at least 1 health report/.test(s.summary));
    assert.equal(waiting.stages[1]?.status, 'baking');
    await service.releases.reportHealth({ model, env: 'staging', version: 'w1', healthy: true, errorRate: 0, source: 'test' });
    const final = await result(started.workflowId);
    assert.equal(final.status, 'succeeded', final.summary);
    const checks = final.stages[1]?.healthChecks ?? [];
    assert.ok(checks.some((c) => /waiting for reports/.test(c.detail) && c.healthy), JSON.stringify(checks));
    await recordHistory(started.workflowId, 'release-bake-waited-for-reports');
  });

  it('with onMissing: wait, fails once the wait limit passes without reports', async () => {
    const model = await registerModel(service.registry, { x1: GOOD });
    const started = await service.start({ model, version: 'x1', pipeline: 'impatient', requestedBy: 'ci' });
    const final = await result(started.workflowId);
    assert.equal(final.status, 'rolled_back', final.summary);
    assert.match(final.outcome?.reason ?? '', /too few health reports/);
  });
});

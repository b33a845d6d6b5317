import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import type { ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestTemporal } from '../support/stack';

// Same stages, only the bake differs: whatever the bake adds to history must not depend on its length.
const bakeOf = (name: string, bake: string) => `
name: ${name}
stages:
  - env: dev
    bake: ${bake}
    healthChecks: { interval: 1s, minReports: 0 }
`;

const PIPELINES = {
  short: bakeOf('short', '5s'),
  long: bakeOf('long', '20s'),
  patient: `
name: patient
stages:
  - env: dev
    bake: 2s
    healthChecks: { interval: 1s, minReports: 1, onMissing: wait, waitLimit: 30s }
`,
  watched: `
name: watched
stages:
  - env: dev
    approval: { required: 1, approvers: [alice], timeout: 1h }
    bake: 10m
    healthChecks: { interval: 1s, minReports: 0 }
`,
};

const GOOD = { accuracy: 0.95 };

describe('a bake costs the same history events at any length', () => {
  let temporal: TestTemporal;
  let service: ReleaseService;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ temporal, service } = harness);
  });
  after(() => harness?.close());

  const run = async (model: string, version: string, pipeline: string) => {
    const started = await service.start({ model, version, pipeline, requestedBy: 'ci' });
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    const final = (await handle.result()) as ReleaseState;
    const history = await handle.fetchHistory();
    return { started, final, events: history.events?.length ?? 0 };
  };

  it('records as many events for a 20 s bake at 1 s checks as for a 5 s one', async () => {
    const model = await registerModel(service.registry, { v1: GOOD, v2: GOOD });
    const short = await run(model, 'v1', 'short');
    const long = await run(model, 'v2', 'long');
    assert.equal(short.final.status, 'succeeded', short.final.summary);
    assert.equal(long.final.status, 'succeeded', long.final.summary);
    const checks = long.final.stages[0]?.healthChecks ?? [];
    assert.ok(checks.length >= 15 && checks.length <= 20, `the 20 s bake hands back its last checks (bounded at 20), got ${checks.length}`);
    assert.ok(checks.every((c) => c.healthy));
    assert.equal(long.events, short.events, `history events: 5 s bake ${short.events}, 20 s bake ${long.events}`);
    await recordHistory(long.started.workflowId, 'release-bake-activity');
  });

  it('waits for missing reports in a second bakeWatch, with the status saying so', async () => {
    const model = await registerModel(service.registry, { v1: GOOD });
    const started = await service.start({ model, version: 'v1', pipeline: 'patient', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => /waiting until .* for at least 1 health report/.test(s.summary));
    await service.releases.reportHealth({ model, env: 'dev', version: 'v1', healthy: true, errorRate: 0, source: 'test' });
    const final = (await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'succeeded', final.summary);
    assert.ok(final.stages[0]?.healthChecks.some((c) => /waiting for reports/.test(c.detail) && c.healthy));
    await recordHistory(started.workflowId, 'release-bake-activity-waited-for-reports');
  });

  it('stops a long bake as soon as an approver rejects the release', async () => {
    const model = await registerModel(service.registry, { v1: GOOD });
    const started = await service.start({ model, version: 'v1', pipeline: 'watched', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    await service.approve({ releaseId: started.releaseId, stage: 'dev', approver: 'alice' });
    await waitForState(service, started.releaseId, (s) => s.status === 'baking');
    const at = Date.now();
    await service.reject({ releaseId: started.releaseId, stage: 'dev', approver: 'alice', reason: 'latency creeping up' });
    const final = (await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'rejected', final.summary);
    assert.ok(Date.now() - at < 60_000, 'the 10 minute bake was cut short');
  });
});

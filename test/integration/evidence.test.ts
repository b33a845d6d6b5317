/**
 * Evidence bundles and audit verification end to end: a finished release's
 * signed bundle (from the shared builder, the API and its signature), and
 * `slipway audit verify` on a chain the worker checkpointed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { parsePipeline } from '../../domain/pipeline';
import { Signer, verifyDocument } from '../../lib/signing';
import { EVIDENCE_CONTEXT, EVIDENCE_SCHEMA, buildEvidence } from '../../registry/evidence';
import { pipelineHash } from '../../registry/registry';
import { approveSignal, type ReleaseState } from '../../workflows/release/api';
import { registerModel, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  evidenced: `
name: evidenced
stages:
  - env: staging
    gates:
      - type: metrics
        require: { accuracy: ">= 0.90" }
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 1h }
`,
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('evidence bundles and audit verification', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  const workerKey = Signer.generate();
  const apiKey = Signer.generate();
  let model: string;
  let releaseId: string;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES, { auditSigner: workerKey });
    ({ t, temporal, service } = harness);
    model = await registerModel(service.registry, { '1.0.0': { accuracy: 0.95 } });
    const started = await service.start({ model, version: '1.0.0', pipeline: 'evidenced', requestedBy: 'dave' });
    releaseId = started.releaseId;
    await waitForState(service, releaseId, (s) => s.status === 'awaiting_approval');
    // A monitoring token reports on staging while the release runs; the bundle must say who it was.
    const monitor = await buildApi({ db: t.db, releases: service, auth: new Authenticator({ tokens: [{ user: 'monitor', token: 'monitor-token-0123456789', roles: ['viewer'], approves: [], reportsHealth: ['staging'] }] }) });
    try {
      const posted = await monitor.inject({ method: 'POST', url: '/health-reports', headers: { authorization: 'Bearer monitor-token-0123456789' }, payload: { model, env: 'staging', version: '1.0.0', healthy: true, errorRate: 0.01, source: 'prom' } });
      assert.equal(posted.statusCode, 202, posted.body);
    } finally {
      await monitor.close();
    }
    await temporal.client.workflow.getHandle(started.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice', comment: 'eval ok' });
    assert.equal(((await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState).status, 'succeeded');
  });
  after(() => harness?.close());

  it('bundles a finished release with its pinned pipeline, approvals and deployments, signed so that one changed byte fails verification', async () => {
    const bundle = await buildEvidence(service.registry, await service.status(releaseId), { signer: apiKey });
    const body = bundle.body as Json;
    assert.equal(body.schema, EVIDENCE_SCHEMA);
    assert.equal(body.release.releaseId, releaseId);
    assert.equal(body.version.sha256, 'c'.repeat(64));
    assert.equal(body.version.lineage.codeCommit, 'abc');
    assert.equal(body.pipeline.hash, body.release.pipelineHash);
    assert.equal(pipelineHash(parsePipeline(body.pipeline.source, 'evidenced.yaml')), body.pipeline.hash, 'the pinned source hashes to the pinned hash');
    assert.deepEqual(body.approvals.map((a: Json) => [a.env, a.quorum.approvedBy]), [['prod', ['alice']]]);
    assert.deepEqual(body.gates[0].gates.map((g: Json) => [g.type, g.passed]), [['metrics', true]]);
    assert.deepEqual(body.deployments.map((d: Json) => [d.env, d.version]), [['staging', '1.0.0'], ['prod', '1.0.0']]);
    assert.deepEqual(body.healthReports.map((r: Json) => [r.env, r.healthy, r.source, r.reportedBy]), [['staging', true, 'prom', { user: 'monitor', via: 'token' }]], 'the bundle names who reported health');
    assert.ok(body.audit.length >= 2 && body.audit.every((e: Json) => e.subject.releaseId === releaseId && /^[0-9a-f]{64}$/.test(e.hash) && e.seq > 0));

    assert.equal(bundle.publicKey, apiKey.publicKey);
    assert.equal(verifyDocument(EVIDENCE_CONTEXT, bundle.body, bundle.signature!, apiKey.trusted()), true);
    // Change one byte of the document as a reader would receive it: the signature no longer verifies.
    const text = JSON.stringify(bundle.body).replace('"1.0.0"', '"1.0.1"');
    assert.equal(verifyDocument(EVIDENCE_CONTEXT, JSON.parse(text), bundle.signature!, apiKey.trusted()), false);
    assert.equal(verifyDocument(EVIDENCE_CONTEXT, bundle.body, bundle.signature!, workerKey.trusted()), false, 'another key does not verify it');
    const unsigned = await buildEvidence(service.registry, await service.status(releaseId));
    assert.equal(unsigned.signature, null);
  });

  it('serves the signed bundle on GET /releases/:id/evidence and the checkpointed chain on GET /audit/verify', async () => {
    const token = 'viewer-token-0123456789';
    const api = await buildApi({ db: t.db, releases: service, auth: new Authenticator({ tokens: [{ user: 'vic', token, roles: ['viewer'], approves: [] }] }), signer: apiKey, trustedKeys: workerKey.trusted() });
    try {
      const headers = { authorization: `Bearer ${token}` };
      const evidence = await api.inject({ method: 'GET', url: `/releases/${releaseId}/evidence`, headers });
      assert.equal(evidence.statusCode, 200, evidence.body);
      const bundle = evidence.json();
      assert.equal(verifyDocument(EVIDENCE_CONTEXT, bundle.body, bundle.signature, apiKey.trusted()), true);
      const verified = await api.inject({ method: 'GET', url: `/audit/verify?model=${model}`, headers });
      assert.equal(verified.statusCode, 200, verified.body);
      assert.equal(verified.json().ok, true, verified.body);
      assert.equal(verified.json().checkpoints[0].newest.keyId, workerKey.keyId, 'the worker checkpointed the chain');
    } finally {
      await api.close();
    }
  });

  it('`slipway audit verify` exits 0 for the intact chain and 1 naming the first bad event once the newest event is deleted', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-audit-'));
    const env = { ...process.env, SLIPWAY_MONGODB_URI: t.uri, SLIPWAY_API_PUBLIC_KEYS: workerKey.publicKey, SLIPWAY_PIPELINES: dir };
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(REPO_ROOT, 'bin', 'slipway.js'), ...args], { cwd: REPO_ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
        });
      });
    const intact = await run(['audit', 'verify', '--model', model, '--json']);
    assert.equal(intact.code, 0, intact.stderr + intact.stdout);
    assert.equal(JSON.parse(intact.stdout).ok, true);

    const head = await service.registry.audit.events.find({ chain: model }).sort({ seq: -1 }).limit(1).next();
    await service.registry.audit.events.deleteOne({ _id: head!._id });
    const tampered = await run(['audit', 'verify', '--model', model]);
    assert.equal(tampered.code, 1, tampered.stderr + tampered.stdout);
    assert.match(tampered.stdout, new RegExp(`TAMPERED: chain ${model}, event ${head!.seq}: .*newest events were deleted`));
  });
});

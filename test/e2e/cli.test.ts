/**
 * The `slipway` command driven as CI and people drive it: `node bin/slipway.js`
 * as a subprocess against the real Temporal dev server and registry from
 * test/run.ts, with a real worker in this process. Checks what callers rely
 * on: `--json` prints exactly one JSON document on stdout, and the exit codes
 * 0 ok · 1 ended badly · 2 bad input · 3 not found · 4 timed out · 5 unreachable.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import type { ReleaseState } from '../../workflows/release/api';
import { registerModel, waitForState, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, testEnv, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

const BIN = path.join(REPO_ROOT, 'bin', 'slipway.js');

const PIPELINES = {
  fast: `
name: fast
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.90" }
  - env: staging
`,
  gated: `
name: gated
stages:
  - env: dev
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol], timeout: 1h }
`,
};

const GOOD = { accuracy: 0.95 };
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

/** CliRun is one finished `slipway` process. */
interface CliRun {
  args: string[];
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON read back from the CLI is checked field by field */
type Json = any;

describe('the slipway command against the real stack', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let env: NodeJS.ProcessEnv;
  let tmp: string;

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    const pipelinesDir = await writePipelines(PIPELINES);
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir, bootstrapFromFolder: true });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-cli-'));
    const { NODE_TEST_CONTEXT: _runnerOnly, ...inherited } = process.env;
    env = {
      ...inherited,
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      SLIPWAY_MONGODB_URI: t.uri,
      SLIPWAY_TASK_QUEUE: temporal.taskQueue,
      SLIPWAY_PIPELINES: pipelinesDir,
      SLIPWAY_USER: 'ci-bot',
    };
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  /** slipway runs the real command; the timeout kills a hung process so a hang fails the test instead of stalling it. */
  function slipway(args: string[], overrides: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...env, ...overrides }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ args, code, signal: err?.signal ?? null, stdout, stderr });
      });
    });
  }

  function show(run: CliRun): string {
    return `slipway ${run.args.join(' ')}\n  exit ${run.code}${run.signal ? ` (killed by ${run.signal})` : ''}\n  stdout: ${run.stdout.slice(0, 3000)}\n  stderr: ${run.stderr.slice(0, 3000)}`;
  }

  function expectExit(run: CliRun, code: number): void {
    assert.equal(run.code, code, `expected exit ${code}\n${show(run)}`);
  }

  /** json parses the whole of stdout: anything besides one JSON document there fails the test. */
  function json(run: CliRun): Json {
    try {
      return JSON.parse(run.stdout) as Json;
    } catch (err) {
      assert.fail(`--json must print exactly one JSON document on stdout (${(err as Error).message})\n${show(run)}`);
    }
  }

  /** cli runs the command, checks its exit code, and (under --json) returns the one JSON document it printed. */
  async function cli(args: string[], code: number, overrides: NodeJS.ProcessEnv = {}): Promise<{ run: CliRun; out: Json }> {
    const run = await slipway(args, overrides);
    expectExit(run, code);
    return { run, out: args.includes('--json') ? json(run) : undefined };
  }

  async function metricsFile(name: string, text: string): Promise<string> {
    const file = path.join(tmp, name);
    await fs.writeFile(file, text);
    return file;
  }

  async function finish(workflowId: string): Promise<ReleaseState> {
    return (await temporal.client.workflow.getHandle(workflowId).result()) as ReleaseState;
  }

  it('model register creates a version once, answers created:false for the same content, and refuses a different digest with exit 2 naming the field', async () => {
    const model = uniqueName('cli').replace(/_/g, '-');
    const metrics = await metricsFile('good.json', JSON.stringify({ accuracy: 0.93, latency_p99_ms: 120 }));
    const register = (sha: string) => ['model', 'register', model, '1.0.0', '--artifact', `s3://models/${model}/1.0.0.onnx`, '--sha256', sha, '--metrics', metrics, '--code-commit', 'abc123', '--json'];

    const first = await cli(register(SHA_A), 0);
    assert.equal(first.out.created, true);
    assert.equal(first.out.version.model, model);
    assert.equal(first.out.version.artifact.sha256, SHA_A);
    assert.deepEqual(first.out.version.metrics, { accuracy: 0.93, latency_p99_ms: 120 });
    assert.equal(first.out.version.registeredBy, 'ci-bot', 'the registrant defaults to SLIPWAY_USER');

    const [again, conflicting] = await Promise.all([cli(register(SHA_A), 0), cli(register(SHA_B), 2)]);
    assert.equal(again.out.created, false);
    assert.equal(again.out.version.registeredAt, first.out.version.registeredAt, 'the stored version is returned unchanged');
    assert.equal(conflicting.out.error.code, 2);
    assert.match(conflicting.out.error.message, /already registered with different artifact/);
    assert.match(conflicting.run.stderr, /different artifact/);
    assert.equal((await service.registry.getVersion(model, '1.0.0')).artifact.sha256, SHA_A, 'versions are immutable');
  });

  it('model register exits 2 naming the field for a malformed digest, a metrics file that is not JSON, and names with $ or dots, writing nothing', async () => {
    const model = uniqueName('bad').replace(/_/g, '-');
    const badMetrics = await metricsFile('bad.json', '{"accuracy": 0.9,');
    const args = (name: string, sha: string, extra: string[] = []) => ['model', 'register', name, '1.0.0', '--artifact', 's3://models/x.onnx', '--sha256', sha, ...extra, '--json'];
    const [sha, metrics, dollar, dotted] = await Promise.all([
      cli(args(model, 'ABC123'), 2),
      cli(args(model, SHA_A, ['--metrics', badMetrics]), 2),
      cli(args('$where', SHA_A), 2),
      cli(args('a.b', SHA_A), 2),
    ]);
    assert.match(sha.out.error.message, /artifact\.sha256/);
    assert.deepEqual(sha.out.error.problems.map((p: { field: string }) => p.field), ['artifact.sha256']);
    assert.match(metrics.out.error.message, /--metrics: .*bad\.json is not valid JSON/);
    assert.match(dollar.out.error.message, /^model: .*no '\$' or '\.'/);
    assert.match(dotted.out.error.message, /^model: .*no '\$' or '\.'/);
    for (const r of [sha, metrics, dollar, dotted]) assert.equal(r.out.error.code, 2);
    await assert.rejects(service.registry.describeModel(model), { name: 'NotFoundError' }, 'a refused registration writes nothing');
  });

  it('release start --wait --json follows a release with no approval to success (exit 0), and status, list and model show report it', async () => {
    const model = await registerModel(service.registry, { v1: GOOD, v2: GOOD });
    const { out: started } = await cli(['release', 'start', model, 'v1', '--pipeline', 'fast', '--wait', '--json'], 0);
    assert.equal(started.releaseId, `release-${model}-v1`);
    assert.equal(started.workflowId, started.releaseId);
    assert.equal(started.status, 'succeeded');
    assert.equal(started.pipeline, 'fast');
    assert.deepEqual(started.stages.map((s: { env: string; status: string }) => [s.env, s.status]), [['dev', 'succeeded'], ['staging', 'succeeded']]);
    assert.equal(started.state.requestedBy, 'ci-bot', 'the requester defaults to SLIPWAY_USER');

    const [status, list, shown] = await Promise.all([
      cli(['release', 'status', started.releaseId, '--json'], 0),
      cli(['release', 'list', '--json', '--model', model], 0),
      cli(['model', 'show', model, '--json'], 0),
    ]);
    assert.equal(status.out.status, 'succeeded');
    assert.equal(status.out.releaseId, started.releaseId);
    assert.deepEqual(status.out.stages.map((s: { env: string }) => s.env), ['dev', 'staging']);
    assert.equal(status.out.stages[0].gates[0].passed, true);

    assert.deepEqual(list.out.releases.map((r: { releaseId: string; status: string }) => [r.releaseId, r.status]), [[started.releaseId, 'succeeded']]);

    assert.deepEqual(shown.out.versions.map((v: { version: string }) => v.version).sort(), ['v1', 'v2']);
    assert.deepEqual(shown.out.live.map((p: { env: string; version: string }) => [p.env, p.version]), [['dev', 'v1'], ['staging', 'v1']]);
  });

  it('release start --wait exits 1 with status failed when the metrics gate fails', async () => {
    const model = await registerModel(service.registry, { weak: { accuracy: 0.5 } });
    const { out } = await cli(['release', 'start', model, 'weak', '--pipeline', 'fast', '--wait', '--json'], 1);
    assert.equal(out.status, 'failed');
    assert.equal(out.releaseId, `release-${model}-weak`);
    assert.match(out.outcome.reason, /accuracy/);
    assert.equal(out.stages[0].gates[0].passed, false);
    assert.equal(out.stages[1].status, 'pending', 'nothing after the failed gate runs');
  });

  it('model show, release start, release status and rollback exit 3 for what does not exist; an unknown pipeline or nothing to roll back to exits 2 naming the field', async () => {
    const model = await registerModel(service.registry, { v1: GOOD });
    const ghost = uniqueName('ghost').replace(/_/g, '-');
    const [noModel, noVersion, noRelease, noPipeline, noRollbackModel, nothingToRestore] = await Promise.all([
      cli(['model', 'show', ghost, '--json'], 3),
      cli(['release', 'start', model, '9.9.9', '--pipeline', 'fast', '--json'], 3),
      cli(['release', 'status', `release-${ghost}-1.0.0`, '--json'], 3),
      cli(['release', 'start', model, 'v1', '--pipeline', 'nope', '--json'], 2),
      cli(['rollback', ghost, '--env', 'staging', '--wait', '--json'], 3),
      cli(['rollback', model, '--env', 'staging', '--wait', '--json'], 2),
    ]);
    assert.match(noModel.out.error.message, new RegExp(`model ${ghost} not found`));
    assert.match(noVersion.out.error.message, new RegExp(`version ${model}@9\\.9\\.9 not found`));
    assert.match(noRelease.out.error.message, /release .* not found/);
    assert.match(noPipeline.out.error.message, /^pipeline: no pipeline named "nope"; known: default, fast, gated \(the folder\), and those `slipway pipeline list` shows$/);
    assert.match(noRollbackModel.out.error.message, new RegExp(`model ${ghost} not found`));
    assert.match(nothingToRestore.out.error.message, new RegExp(`^to: ${model} has no earlier good version in staging to roll back to; name one with --to$`));
    for (const [r, code] of [[noModel, 3], [noVersion, 3], [noRelease, 3], [noPipeline, 2], [noRollbackModel, 3], [nothingToRestore, 2]] as const) assert.equal(r.out.error.code, code);
    assert.equal(await t.db.collection('releases').countDocuments({ model }), 0, 'no release was started');
    assert.equal(await t.db.collection('deployments').countDocuments({ model }), 0, 'no rollback moved anything');
  });

  it('pipeline apply stores a revision once, model bind needs an applied pipeline, and release start then runs the binding', async () => {
    const model = await registerModel(service.registry, { v1: GOOD });
    const name = `cli-${model}`;
    const file = path.join(tmp, `${name}.yaml`);
    await fs.writeFile(file, `name: ${name}\nstages:\n  - env: dev\n`);

    const [unbindable, badFile] = await Promise.all([
      cli(['model', 'bind', model, '--pipeline', name, '--json'], 2),
      metricsFile('bad-target.yaml', 'name: bad\nstages:\n  - env: dev\n    target: k8s\n').then((bad) => cli(['pipeline', 'apply', bad, '--json'], 2)),
    ]);
    assert.equal(unbindable.out.error.problems[0].field, 'pipeline');
    assert.match(badFile.out.error.message, /bad-target\.yaml: stages\[0\]\.target: unknown deploy target "k8s"/);

    const applied = await cli(['pipeline', 'apply', file, '--json'], 0);
    assert.deepEqual({ name: applied.out.name, revision: applied.out.revision, changed: applied.out.changed }, { name, revision: 1, changed: true });
    assert.equal((await cli(['pipeline', 'apply', file, '--json'], 0)).out.changed, false);
    const shown = await cli(['pipeline', 'show', name, '--json'], 0);
    assert.equal(shown.out.appliedBy, 'unverified:cli:ci-bot');
    assert.ok((await cli(['pipeline', 'list', '--json'], 0)).out.pipelines.some((p: Json) => p.name === name));

    const bound = await cli(['model', 'bind', model, '--pipeline', name, '--json'], 0);
    assert.equal(bound.out.binding.pipeline, name);
    const started = await cli(['release', 'start', model, 'v1', '--json'], 0);
    assert.equal(started.out.pipeline, name, 'a start without --pipeline follows the binding');
    assert.equal(started.out.pipelineHash, applied.out.hash);
  });

  it('deployments shows what is live and what was live --at a moment, and rollback --wait restores the previous version', async () => {
    const model = await registerModel(service.registry, { v1: GOOD, v2: GOOD });
    const beforeAny = new Date().toISOString();
    assert.equal((await finish((await service.start({ model, version: 'v1', pipeline: 'fast', requestedBy: 'ci' })).workflowId)).status, 'succeeded');
    const betweenReleases = new Date().toISOString();
    assert.equal((await finish((await service.start({ model, version: 'v2', pipeline: 'fast', requestedBy: 'ci' })).workflowId)).status, 'succeeded');

    const [now, then, earlier] = await Promise.all([
      cli(['deployments', model, '--json'], 0),
      cli(['deployments', model, '--at', betweenReleases, '--json'], 0),
      cli(['deployments', model, '--env', 'staging', '--at', beforeAny, '--json'], 0),
    ]);
    assert.deepEqual(now.out.live.map((p: { env: string; version: string }) => [p.env, p.version]), [['dev', 'v2'], ['staging', 'v2']]);
    assert.deepEqual(
      now.out.history.filter((d: { env: string }) => d.env === 'staging').map((d: { version: string; endedAt: string | null }) => [d.version, d.endedAt === null]),
      [['v2', true], ['v1', false]],
    );
    assert.equal(then.out.at, betweenReleases);
    assert.deepEqual(then.out.environments.map((e: { env: string; version: string }) => [e.env, e.version]), [['dev', 'v1'], ['staging', 'v1']]);
    assert.deepEqual(earlier.out.environments, [{ env: 'staging', version: null, since: null }]);

    const { out: rolled } = await cli(['rollback', model, '--env', 'staging', '--wait', '--json', '--as', 'oncall'], 0);
    assert.match(rolled.workflowId, new RegExp(`^rollback-${model}-staging-`));
    assert.deepEqual([rolled.from, rolled.to, rolled.status], ['v2', 'v1', 'succeeded']);
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'v1');
  });

  it('release start --wait --timeout exits 4 while approval is pending; approve answers with the quorum, refuses self-approval with exit 2, rollback queues behind the lock (--wait --timeout exits 4), and reject ends the release rejected', async () => {
    const model = await registerModel(service.registry, { a0: GOOD, a1: GOOD });
    // A rollback restores only what was live before: a0 then a1 were live in prod.
    for (const v of ['a0', 'a1']) await service.registry.moveLivePointer({ model, env: 'prod', version: v, opKey: `seed-${model}-${v}`, by: 'ci', reason: 'earlier release' });
    const releaseId = `release-${model}-a1`;
    const timedOut = await cli(['release', 'start', model, 'a1', '--pipeline', 'gated', '--as', 'alice', '--wait', '--timeout', '1s', '--json'], 4);
    assert.equal(timedOut.out.error.code, 4);
    assert.match(timedOut.out.error.message, new RegExp(`timed out after 1s waiting for ${releaseId}`));
    await waitForState(service, releaseId, (s) => s.status === 'awaiting_approval');

    // The release holds the prod lock while it waits, so a rollback of prod queues behind it:
    // without --wait the command returns at once; with --wait --timeout it gives up with exit 4.
    const [bob, self, queued, waited] = await Promise.all([
      cli(['approve', releaseId, '--stage', 'prod', '--as', 'bob', '--comment', 'eval looks good', '--json'], 0),
      cli(['approve', releaseId, '--stage', 'prod', '--as', 'alice', '--json'], 2),
      slipway(['rollback', model, '--env', 'prod', '--to', 'a0', '--json']),
      slipway(['rollback', model, '--env', 'prod', '--to', 'a0', '--wait', '--timeout', '1s', '--json']),
    ]);
    expectExit(queued, 0);
    expectExit(waited, 4);
    const queuedId: string = json(queued).workflowId;
    assert.match(queuedId, new RegExp(`^rollback-${model}-prod-`));
    const waitedId = /^timed out after 1s waiting for (rollback-\S+); it goes on in the background$/.exec(json(waited).error.message)?.[1];
    assert.ok(waitedId, `the timeout names the rollback\n${show(waited)}`);
    assert.equal(bob.out.outcome, 'counted');
    assert.equal(bob.out.stage, 'prod');
    assert.equal(bob.out.quorum.required, 2);
    assert.equal(bob.out.quorum.met, false);
    assert.deepEqual(bob.out.quorum.approvedBy, ['bob']);
    assert.equal(self.out.outcome, 'refused');
    assert.match(self.out.reason, /requested this release/);

    const rejected = await cli(['reject', releaseId, '--stage', 'prod', '--as', 'carol', '--reason', 'bias report missing', '--json'], 0);
    assert.equal(rejected.out.sent, true);
    await waitForState(service, releaseId, (s) => s.status === 'rejected');
    const { out: status } = await cli(['release', 'status', releaseId, '--json'], 0);
    assert.equal(status.status, 'rejected');
    assert.match(status.outcome.reason, /carol: bias report missing/);
    assert.deepEqual(status.stages[1].quorum.approvedBy, ['bob'], 'the refused self-approval was never counted');
    // Once the rejected release lets go of the lock, both queued rollbacks run, one after the other.
    const results = await Promise.all([queuedId, waitedId].map((id) => temporal.client.workflow.getHandle(id).result()));
    const byStatus = results.map((r) => [r.status, r.from, r.to]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(byStatus, [['noop', 'a0', 'a0'], ['succeeded', 'a1', 'a0']]);
  });

  it('release retry in direct mode starts a new run; a worker that trusts the API keeps nothing of an unsigned retry and the command says why', async () => {
    const model = await registerModel(service.registry, { r1: GOOD });
    const releaseId = `release-${model}-r1`;
    await cli(['release', 'start', model, 'r1', '--pipeline', 'gated', '--json'], 0);
    await waitForState(service, releaseId, (s) => s.status === 'awaiting_approval');
    const running = await cli(['release', 'retry', releaseId, '--json'], 2);
    assert.match(running.out.error.message, /release-id: .* is awaiting_approval; only a release that ended failed, rejected, approval_expired, cancelled can be retried/);
    await cli(['reject', releaseId, '--stage', 'prod', '--as', 'carol', '--reason', 'not yet', '--json'], 0);
    const ended = await waitForState(service, releaseId, (s) => s.status === 'rejected');
    assert.equal((await cli(['release', 'retry', releaseId, '--from', 'qa', '--json'], 2)).out.error.message.match(/from: no stage "qa"/)?.length, 1);
    assert.equal((await cli(['release', 'retry', `release-${model}-r9`, '--json'], 3)).out.error.code, 3);
    const retried = await cli(['release', 'retry', releaseId], 0);
    assert.match(retried.run.stdout, new RegExp(`run \\S+ retries run ${ended.runId} \\(rejected at prod\\)`));
    assert.match(retried.run.stdout, /kept: \(nothing\)/);
    assert.match(retried.run.stdout, /refused by the worker: retry request refused: it was not signed by the Slipway API/);
    const rerun = await waitForState(service, releaseId, (s) => s.runId !== ended.runId && s.status === 'awaiting_approval');
    assert.ok(rerun.stages.every((s) => s.carriedOver === undefined));
    await cli(['reject', releaseId, '--stage', 'prod', '--as', 'carol', '--reason', 'still not', '--json'], 0);
    await waitForState(service, releaseId, (s) => s.runId !== ended.runId && s.status === 'rejected');
  });

  it('exits 5 naming the variable, without hanging, when Temporal or the registry database is unreachable', async () => {
    const closedPort = await freePort();
    const [noTemporal, noMongo] = await Promise.all([
      slipway(['release', 'status', 'release-x-1', '--json'], { TEMPORAL_ADDRESS: '127.0.0.1:1' }, 30_000),
      slipway(['model', 'show', 'anything', '--json'], { SLIPWAY_MONGODB_URI: `mongodb://127.0.0.1:${closedPort}/slipway_unreachable` }, 30_000),
    ]);
    expectExit(noTemporal, 5);
    expectExit(noMongo, 5);
    assert.match(json(noTemporal).error.message, /cannot reach Temporal at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS\)/);
    assert.match(json(noMongo).error.message, new RegExp(`cannot reach the registry database at mongodb://127\\.0\\.0\\.1:${closedPort}/slipway_unreachable \\(SLIPWAY_MONGODB_URI\\)`));
    assert.match(noTemporal.stderr, /TEMPORAL_ADDRESS/);
    assert.match(noMongo.stderr, /SLIPWAY_MONGODB_URI/);
  });

  it('exits 2 on usage errors (missing required option, unknown command, bad configuration), as JSON under --json, and shows an example in model register --help', async () => {
    const [noStage, noArtifact, unknown, badConfig, help] = await Promise.all([
      slipway(['approve', 'release-x-1', '--as', 'bob', '--json']),
      slipway(['model', 'register', 'm', '1.0.0', '--sha256', SHA_A]),
      slipway(['--json', 'frobnicate']),
      slipway(['model', 'show', 'm', '--json'], { SLIPWAY_API_PORT: 'abc' }),
      slipway(['model', 'register', '--help']),
    ]);
    expectExit(noStage, 2);
    assert.match(noStage.stderr, /required option '--stage <env>' not specified/);
    assert.deepEqual(json(noStage).error, { code: 2, type: 'CommanderError', message: "error: required option '--stage <env>' not specified" }, 'usage errors are JSON too under --json');
    expectExit(noArtifact, 2);
    assert.match(noArtifact.stderr, /required option '--artifact <uri>' not specified/);
    assert.equal(noArtifact.stdout, '', 'without --json nothing goes to stdout on error');
    expectExit(unknown, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.match(json(unknown).error.message, /unknown command 'frobnicate'/);
    expectExit(badConfig, 2);
    assert.match(json(badConfig).error.message, /^SLIPWAY_API_PORT must be a port number/);
    expectExit(help, 0);
    assert.match(help.stdout, /Example:\n\s+\$ slipway model register \S+ \S+ --artifact \S+/);
    assert.match(help.stdout, /--sha256 <hex>/);
  });
});

/** freePort finds a loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

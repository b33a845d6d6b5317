/**
 * The `slipway` command through the HTTP API: `node bin/slipway.js` with
 * SLIPWAY_API_URL and SLIPWAY_TOKEN against buildApi on a loopback port, the
 * real stack behind it. The CLI itself is pointed at a Temporal and a database
 * that do not exist, so every verb here can only have gone through the API,
 * acting as the token's user. Same --json documents and exit codes as direct mode.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import { Authenticator } from '../../api/auth';
import { CiIdentityVerifier, parseCiRules } from '../../api/ci-identity';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { writePipelines } from '../support/releases';
import { PolicyStore } from '../../registry/policy';
import { openTestDb, startTestWorker, TEST_SIGNER, uniqueName, type TestDb, type TestTemporal } from '../support/stack';
import { listenOnLoopback } from '../support/api';

const BIN = path.join(REPO_ROOT, 'bin', 'slipway.js');

const TOKENS = {
  rita: 'rita-releaser-token-0123456789',
  bob: 'bob-approver-token-0123456789',
  vic: 'vic-viewer-token-0123456789',
  ada: 'ada-admin-token-0123456789abc',
};

const PIPELINES = {
  gated: `
name: gated
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [bob], timeout: 1h }
`,
  fast: `
name: fast
stages:
  - env: dev
  - env: prod
`,
};

interface CliRun {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON read back from the CLI is checked field by field */
type Json = any;

describe('the slipway command through the HTTP API, acting as the token', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let app: FastifyInstance;
  let apiUrl: string;
  let env: NodeJS.ProcessEnv;
  let model: string;
  let ciKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  const GITHUB = 'https://token.actions.githubusercontent.com';
  const githubToken = (repository: string) =>
    new SignJWT({ repository, ref: 'refs/heads/main', actor: 'octocat', sub: `repo:${repository}:ref:refs/heads/main`, workflow: 'release', run_id: '7' })
      .setProtectedHeader({ alg: 'RS256', kid: 'gh' })
      .setIssuer(GITHUB)
      .setAudience('slipway')
      .setExpirationTime('5m')
      .sign(ciKey);

  before(async () => {
    const ci = await generateKeyPair('RS256');
    ciKey = ci.privateKey;
    const ciJwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(ci.publicKey)), kid: 'gh', alg: 'RS256' }] });
    const ciRules = parseCiRules(
      {
        issuers: [{ issuer: GITHUB, audience: 'slipway', jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks' }],
        rules: [{ match: { iss: GITHUB, repository: 'acme/fraud-model', ref: 'refs/heads/main' }, user: 'ci:github:{repository}', actor: '{actor}', roles: ['releaser'] }],
      },
      'test rules',
    );
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    const service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true, signer: TEST_SIGNER });
    const policy = new PolicyStore(t.db);
    for (const [name, yaml] of Object.entries(PIPELINES)) await policy.applyPipeline(yaml, `${name}.yaml`, 'admin');
    const auth = new Authenticator({
      tokens: [
        { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: [], rollsBack: ['prod'] },
        { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: ['prod'] },
        { user: 'vic', token: TOKENS.vic, roles: ['viewer'], approves: [] },
        { user: 'ada', token: TOKENS.ada, roles: ['admin'], approves: [] },
      ],
    }, undefined, undefined, new CiIdentityVerifier(ciRules, () => ciJwks));
    app = await buildApi({ db: t.db, releases: service, temporal: temporal.client, auth, mutationsPerMinute: 1000 });
    apiUrl = await listenOnLoopback(app);
    const { NODE_TEST_CONTEXT: _runnerOnly, SLIPWAY_TOKEN: _notOurs, ...inherited } = process.env;
    env = {
      ...inherited,
      // Nothing listens here: a verb that bypassed the API would fail with exit 5.
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      SLIPWAY_MONGODB_URI: 'mongodb://127.0.0.1:1/none?serverSelectionTimeoutMS=500',
      SLIPWAY_API_URL: apiUrl,
      SLIPWAY_USER: 'not-the-token-user',
    };
    model = uniqueName('api').replace(/_/g, '-');
  });
  after(async () => {
    await app?.close();
    await temporal?.close();
    await t?.close();
  });

  function slipway(args: string[], token: string | undefined, overrides: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { cwd: REPO_ROOT, env: { ...env, ...(token ? { SLIPWAY_TOKEN: token } : {}), ...overrides }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ args, code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
    });
  }

  /** cli runs the command as `token`, checks the exit code, and under --json returns the one JSON document on stdout. */
  async function cli(args: string[], token: string | undefined, code: number, overrides: NodeJS.ProcessEnv = {}): Promise<{ run: CliRun; out: Json }> {
    const run = await slipway(args, token, overrides);
    const shown = `slipway ${args.join(' ')}\n  exit ${run.code}\n  stdout: ${run.stdout.slice(0, 3000)}\n  stderr: ${run.stderr.slice(0, 3000)}`;
    assert.equal(run.code, code, `expected exit ${code}\n${shown}`);
    let out: Json;
    if (args.includes('--json')) {
      try {
        out = JSON.parse(run.stdout);
      } catch (err) {
        assert.fail(`--json must print exactly one JSON document on stdout (${(err as Error).message})\n${shown}`);
      }
    }
    return { run, out };
  }

  const register = (version: string, extra: string[] = []) => ['model', 'register', model, version, '--artifact', `s3://models/${model}/${version}.onnx`, '--sha256', 'c'.repeat(64), '--json', ...extra];

  it('registers versions as the token user, refuses --as, and answers a viewer without the releaser role with exit 2', async () => {
    const first = await cli(register('1.0.0'), TOKENS.rita, 0);
    assert.equal(first.out.created, true);
    assert.equal(first.out.version.registeredBy, 'rita');
    assert.doesNotMatch(first.run.stderr, /unverified/);
    assert.equal((await cli(register('1.0.0'), TOKENS.rita, 0)).out.created, false);
    await cli(register('1.1.0'), TOKENS.rita, 0);
    await cli(register('1.2.0'), TOKENS.rita, 0);

    const impersonating = await cli(register('1.3.0', ['--as', 'alice']), TOKENS.rita, 2);
    assert.match(impersonating.run.stderr, /--as: not allowed through the API/);
    assert.equal(impersonating.out.error.code, 2);

    const viewer = await cli(register('1.3.0'), TOKENS.vic, 2);
    assert.match(viewer.run.stderr, /not allowed: vic lacks the releaser role/);

    const shown = await cli(['model', 'show', model, '--json'], TOKENS.vic, 0);
    assert.deepEqual(shown.out.versions.map((v: Json) => v.version).sort(), ['1.0.0', '1.1.0', '1.2.0']);
    const human = await cli(['model', 'show', model], TOKENS.vic, 0);
    assert.match(human.run.stdout, /1\.0\.0\s+\d{4}-\d{2}-\d{2}T.*by rita/);
  });

  it('starts a release as the token user, shows its status, lets the approver approve without --as, and follows it to success', async () => {
    // Policy is an admin's: binding through the API is refused to a releaser.
    await cli(['model', 'bind', model, '--pipeline', 'gated', '--json'], TOKENS.rita, 2);
    const bound = await cli(['model', 'bind', model, '--pipeline', 'gated', '--json'], TOKENS.ada, 0);
    assert.equal(bound.out.binding.boundBy, 'ada');
    const viewerStart = await cli(['release', 'start', model, '1.0.0', '--pipeline', 'gated', '--json'], TOKENS.vic, 2);
    assert.match(viewerStart.run.stderr, /not allowed: vic lacks the releaser role/);
    assert.equal(viewerStart.out.error.code, 2);

    const started = await cli(['release', 'start', model, '1.0.0', '--pipeline', 'gated', '--json'], TOKENS.rita, 0);
    assert.ok(started.out.releaseId);
    assert.ok(started.out.workflowId);

    const deadline = Date.now() + 60_000;
    let status: Json;
    do {
      status = (await cli(['release', 'status', started.out.releaseId, '--json'], TOKENS.vic, 0)).out;
    } while (status.status !== 'awaiting_approval' && Date.now() < deadline);
    assert.equal(status.status, 'awaiting_approval');
    assert.equal(status.requestedBy, 'rita');
    assert.deepEqual(status.stages.map((s: Json) => s.env), ['dev', 'prod']);

    const withAs = await cli(['approve', started.out.releaseId, '--stage', 'prod', '--as', 'bob'], TOKENS.bob, 2);
    assert.match(withAs.run.stderr, /--as: not allowed/);
    const notApprover = await cli(['approve', started.out.releaseId, '--stage', 'prod', '--json'], TOKENS.vic, 2);
    assert.match(notApprover.run.stderr, /not allowed: vic may not approve prod/);

    const approved = await cli(['approve', started.out.releaseId, '--stage', 'prod', '--comment', 'looks good', '--json'], TOKENS.bob, 0);
    assert.equal(approved.out.outcome, 'counted');
    assert.deepEqual(approved.out.quorum.approvedBy, ['bob']);

    const watched = await cli(['release', 'status', started.out.releaseId, '--watch', '--timeout', '60s', '--json'], TOKENS.vic, 0);
    assert.equal(watched.out.status, 'succeeded');

    const listed = await cli(['release', 'list', '--model', model, '--json'], TOKENS.vic, 0);
    assert.ok(listed.out.releases.some((r: Json) => r.releaseId === started.out.releaseId));
  });

  it('rejects as the token user, a watched release that ended rejected exits 1, and the reason prints without its terminal controls', async () => {
    const started = await cli(['release', 'start', model, '1.2.0', '--pipeline', 'gated', '--json'], TOKENS.rita, 0);
    const deadline = Date.now() + 60_000;
    let status: Json;
    do {
      status = (await cli(['release', 'status', started.out.releaseId, '--json'], TOKENS.vic, 0)).out;
    } while (status.status !== 'awaiting_approval' && Date.now() < deadline);
    // The reason tries to clear the screen, retitle the window and recolour what follows.
    const hostileReason = 'drift on segment B\x1b[2J\x1b]0;pwned\x07\x9b31m\rforged line';
    const rejected = await cli(['reject', started.out.releaseId, '--stage', 'prod', '--reason', hostileReason, '--json'], TOKENS.bob, 0);
    assert.equal(rejected.out.rejectedBy, 'bob');
    const watched = await cli(['release', 'status', started.out.releaseId, '--watch', '--timeout', '60s', '--json'], TOKENS.vic, 1);
    assert.equal(watched.out.status, 'rejected');
    // People see the words without the controls; --json keeps the text as recorded, escaped.
    const human = await slipway(['release', 'status', started.out.releaseId], TOKENS.vic);
    assert.match(human.stdout, /drift on segment B/);
    const controls = (text: string) => ['\x1b', '\x07', '\x9b', '\r'].filter((c) => text.includes(c));
    assert.deepEqual(controls(human.stdout), [], `terminal controls reached the output: ${JSON.stringify(human.stdout)}`);
    assert.ok(JSON.stringify(watched.out).includes('drift on segment B\\u001b[2J'), 'the JSON document keeps the recorded reason');
    assert.deepEqual(controls(watched.run.stdout), []);
  });

  it('retries the rejected release as the token user: the worker starts again from dev, which the rejection rolled back, and says so', async () => {
    const releaseId = `release-${model}-1.2.0`;
    const before = (await cli(['release', 'status', releaseId, '--json'], TOKENS.vic, 0)).out;
    assert.equal(before.status, 'rejected');
    const viewer = await cli(['release', 'retry', releaseId, '--json'], TOKENS.vic, 2);
    assert.match(viewer.run.stderr, /not allowed: vic lacks the releaser role/);
    const retried = await cli(['release', 'retry', releaseId, '--json'], TOKENS.rita, 0);
    assert.equal(retried.out.decidedBy, 'worker');
    assert.equal(retried.out.retryOf.runId, before.runId);
    assert.deepEqual(retried.out.carriedOver, []);
    assert.equal(retried.out.retryOf.startFrom, 'dev');
    assert.match(retried.out.retryOf.reason, /dev needs running: it ended rolled_back in the earlier run/);
    const again = await cli(['release', 'retry', releaseId, '--from', 'prod', '--json'], TOKENS.rita, 2);
    assert.match(again.run.stderr, /release-id: .* is (running|waiting_for_lock|deploying|awaiting_approval)/);
    const deadline = Date.now() + 60_000;
    let status: Json;
    do {
      status = (await cli(['release', 'status', releaseId, '--json'], TOKENS.vic, 0)).out;
    } while (status.status !== 'awaiting_approval' && Date.now() < deadline);
    assert.equal(status.retryOf.runId, before.runId);
    const human = await cli(['release', 'status', releaseId], TOKENS.vic, 0);
    assert.match(human.run.stdout, new RegExp(`retry of run ${before.runId} \\(rejected\\), started at dev`));
    await cli(['reject', releaseId, '--stage', 'prod', '--reason', 'still drifting', '--json'], TOKENS.bob, 0);
    assert.equal((await cli(['release', 'status', releaseId, '--watch', '--timeout', '60s', '--json'], TOKENS.vic, 1)).out.status, 'rejected');
  });

  it('releases another version with --wait, rolls prod back with --wait, and shows the deployments', async () => {
    await cli(['model', 'bind', model, '--pipeline', 'fast', '--json'], TOKENS.ada, 0);
    const released = await cli(['release', 'start', model, '1.1.0', '--pipeline', 'fast', '--wait', '--timeout', '60s', '--json'], TOKENS.rita, 0);
    assert.equal(released.out.status, 'succeeded');

    const rolledBack = await cli(['rollback', model, '--env', 'prod', '--reason', 'latency', '--wait', '--timeout', '60s', '--json'], TOKENS.rita, 0);
    assert.match(rolledBack.out.workflowId, /^rollback-/);
    assert.equal(rolledBack.out.from, '1.1.0');
    assert.equal(rolledBack.out.to, '1.0.0');

    const deployments = await cli(['deployments', model, '--env', 'prod', '--json'], TOKENS.vic, 0);
    assert.deepEqual(deployments.out.live.map((p: Json) => [p.env, p.version]), [['prod', '1.0.0']]);
    const human = await cli(['deployments', model], TOKENS.vic, 0);
    assert.match(human.run.stdout, /prod\s+1\.0\.0\s+since \d{4}-/);

    const dora = await cli(['dora', '--model', model, '--json'], TOKENS.vic, 0);
    assert.equal(dora.out.since, '30d');
    assert.ok(Array.isArray(dora.out.metrics));
  });

  it('maps the API answers to exit codes: 400 names the field (2), unknown release (3), bad token (2), unreachable API (5)', async () => {
    const badVersion = await cli(['release', 'start', model, 'not a version!', '--json'], TOKENS.rita, 2);
    assert.match(badVersion.out.error.message, /version/);

    await cli(['release', 'status', `release-${model}-9.9.9`, '--json'], TOKENS.vic, 3);

    const badToken = await cli(['model', 'show', model], 'not-a-real-token-at-all', 2);
    assert.match(badToken.run.stderr, /not allowed: invalid token/);

    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = await cli(['release', 'list', '--json'], TOKENS.vic, 5, { SLIPWAY_API_URL: `http://127.0.0.1:${closedPort}` });
    assert.match(unreachable.run.stderr, /cannot reach the Slipway API at http:\/\/127\.0\.0\.1:\d+ \(SLIPWAY_API_URL\)/);
    assert.equal(unreachable.out.error.code, 5);
  });

  it('takes the token from --token, and refuses --token without SLIPWAY_API_URL instead of acting unverified', async () => {
    const viaFlag = await cli(['--token', TOKENS.vic, 'model', 'show', model, '--json'], undefined, 0);
    assert.ok(viaFlag.out.versions.length >= 3);
    const noUrl = await cli(['--token', TOKENS.vic, 'model', 'show', model], undefined, 2, { SLIPWAY_API_URL: '' });
    assert.match(noUrl.run.stderr, /--token needs SLIPWAY_API_URL/);
  });

  it('acts as the CI identity a GitHub Actions ID token maps to, and refuses a token from a repository no rule names', async () => {
    const token = await githubToken('acme/fraud-model');
    const registered = await cli(register('3.0.0'), token, 0);
    assert.equal(registered.out.version.registeredBy, 'ci-github-acme-fraud-model');
    const started = await cli(['release', 'start', model, '3.0.0', '--pipeline', 'fast', '--wait', '--timeout', '60s', '--json'], token, 0);
    assert.equal(started.out.state.requestedBy, 'ci-github-acme-fraud-model');
    assert.deepEqual(started.out.state.requester, { user: 'ci-github-acme-fraud-model', verified: true, via: 'oidc', issuer: GITHUB, actor: 'octocat' });

    const fork = await cli(register('3.1.0'), await githubToken('mallory/fraud-model'), 2);
    assert.match(fork.run.stderr, /not allowed: no CI rule matches this token \(.*repository="mallory\/fraud-model"/);
  });

  it('without a token acts directly, saying so on stderr for a mutating verb while --json stdout stays one document', async () => {
    const direct = await cli(register('2.0.0'), undefined, 0, { SLIPWAY_MONGODB_URI: t.uri, SLIPWAY_API_URL: '' });
    assert.equal(direct.out.version.registeredBy, 'not-the-token-user');
    assert.match(direct.run.stderr, /acting as not-the-token-user, unverified/);
  });
});

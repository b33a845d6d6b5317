/**
 * DORA metrics from real registry documents: versions registered with commit
 * times, live pointers moved by the real registry deploy target (deploy, and
 * undo = mark failed + restore) and by a `slipway rollback`-shaped move, on a
 * controllable clock so every answer is exact. Then the same data through
 * GET /dora on the real API app and through `slipway dora` as a subprocess.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { registryTarget } from '../../targets/registry/registry-target';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { REPO_ROOT } from '../../devstack/stack';
import { ALL_ENVIRONMENTS, type DoraMetrics } from '../../domain/dora';
import { readDora } from '../../registry/dora';
import { InvalidInputError, NotFoundError } from '../../registry/errors';
import { Registry } from '../../registry/registry';
import { openTestDb, type TestDb } from '../support/stack';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const FROM = new Date('2026-11-01T00:00:00Z');
const TO = new Date(FROM.getTime() + 7 * DAY);
const at = (day: number, hour: number, minute = 0) => new Date(FROM.getTime() + day * DAY + hour * HOUR + minute * MIN);

function row(metrics: DoraMetrics[], model: string, env: string): DoraMetrics {
  const found = metrics.find((m) => m.model === model && m.env === env);
  assert.ok(found, `no row for ${model}/${env}; rows: ${metrics.map((m) => `${m.model}/${m.env}`).join(', ')}`);
  return found;
}

describe('DORA metrics from the real registry', () => {
  let t: TestDb;
  let registry: Registry;
  let now = new Date(FROM.getTime() - 30 * DAY);
  const target = () => registryTarget(registry);

  async function register(model: string, version: string, committedAt?: Date): Promise<void> {
    await registry.registerVersion(
      {
        model,
        version,
        artifact: { uri: `s3://models/${model}/${version}.onnx`, sha256: 'a'.repeat(64) },
        codeCommit: `c-${version}`,
        ...(committedAt ? { codeCommittedAt: committedAt.toISOString() } : {}),
      },
      'ci',
    );
  }

  /** deploy ships a version the way a release's deploy step does. */
  async function deploy(model: string, env: string, version: string, when: Date): Promise<void> {
    now = when;
    await target().deploy({ opKey: `release-${model}-${version}:${env}:deploy`, releaseId: `release-${model}-${version}`, model, env, version, by: 'release' });
  }

  /** undo is a release's compensation: marks the deployment failed and restores the last known good version. */
  async function undo(model: string, env: string, version: string, when: Date): Promise<void> {
    now = when;
    const result = await target().undo({
      opKey: `release-${model}-${version}:${env}:deploy`,
      releaseId: `release-${model}-${version}`,
      model,
      env,
      failedVersion: version,
      by: 'release',
      reason: 'bake health check failed',
    });
    assert.equal(result.skipped, undefined, 'the undo must restore, not skip');
  }

  /** rollback moves the pointer the way `slipway rollback` (rollbackWorkflow) does. */
  async function rollback(model: string, env: string, to: string, when: Date): Promise<void> {
    now = when;
    const rollbackId = `rollback-${model}-${env}-${when.getTime()}`;
    await registry.moveLivePointer({ model, env, version: to, opKey: `${rollbackId}:deploy`, releaseId: rollbackId, by: 'oncall', reason: 'p99 regression' });
  }

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db, () => now);
    await registry.ensureIndexes();

    // fraud: before the period, a baseline in prod and the only move dev ever had.
    await register('fraud', '0.9.0', at(-3, 0));
    await deploy('fraud', 'prod', '0.9.0', at(-2, 10));
    await deploy('fraud', 'dev', '0.9.0', at(-1, 10));
    await register('fraud', '1.0.0', at(0, 8));
    await register('fraud', '1.0.1', at(1, 6));
    await register('fraud', '1.0.2', at(2, 9));
    await register('fraud', '1.0.3'); // registered without a commit time
    await register('fraud', '1.0.4', at(4, 4));
    await register('fraud', '1.0.5', at(6, 20));
    await register('fraud', '1.0.6', at(9, 0));

    // staging: two healthy deployments, 1h and 30m after their commits.
    await deploy('fraud', 'staging', '1.0.0', at(0, 9));
    await deploy('fraud', 'staging', '1.0.2', at(2, 9, 30));
    // prod: five deployments, one rolled back by its release after 30 minutes, then a manual rollback.
    await deploy('fraud', 'prod', '1.0.0', at(0, 10)); // lead 2h
    await deploy('fraud', 'prod', '1.0.1', at(1, 10)); // lead 4h
    await deploy('fraud', 'prod', '1.0.2', at(2, 10)); // fails its bake
    await undo('fraud', 'prod', '1.0.2', at(2, 10, 30)); // back to 1.0.1: recovery 30m
    await deploy('fraud', 'prod', '1.0.3', at(3, 10)); // no commit time
    await deploy('fraud', 'prod', '1.0.4', at(4, 10)); // lead 6h
    await rollback('fraud', 'prod', '1.0.3', at(4, 12)); // a restore, not a deployment
    // test: fails late on the last day and is restored 2h later, after the period ended.
    await deploy('fraud', 'test', '1.0.5', at(6, 23));
    await undo('fraud', 'test', '1.0.5', at(7, 1));
    await deploy('fraud', 'prod', '1.0.6', at(10, 0)); // after the period

    // churn: one deployment in prod, to show the all-models view and the model filter.
    await register('churn', '2.0.0', at(3, 0));
    await deploy('churn', 'prod', '2.0.0', at(3, 12));
  });
  after(async () => t?.close());

  it('computes the four keys per environment with known answers', async () => {
    const report = await readDora(t.db, { model: 'fraud', from: FROM, to: TO });
    assert.deepEqual(report.metrics.map((m) => m.env), ['dev', 'test', 'staging', 'prod']);

    const prod = row(report.metrics, 'fraud', 'prod');
    assert.equal(prod.deployments, 5);
    assert.equal(prod.restores, 2, "the release's undo and the manual rollback");
    assert.deepEqual(prod.deploymentFrequency, { perDay: 5 / 7, band: 'high' });
    assert.deepEqual(prod.leadTime, { samples: 3, medianMs: 4 * HOUR, p90Ms: 6 * HOUR, withoutCommitTime: 1, commitAfterDeploy: 0, band: 'elite' });
    assert.deepEqual(prod.changeFailureRate, { failed: 1, rate: 0.2, band: 'low' });
    assert.deepEqual(prod.recoveryTime, { samples: 1, medianMs: 30 * MIN, p90Ms: 30 * MIN, unrecovered: 0, band: 'elite' });

    const staging = row(report.metrics, 'fraud', 'staging');
    assert.equal(staging.deployments, 2);
    assert.deepEqual([staging.leadTime.medianMs, staging.leadTime.p90Ms], [45 * MIN, HOUR]);
    assert.deepEqual(staging.changeFailureRate, { failed: 0, rate: 0, band: 'elite' });

    const test = row(report.metrics, 'fraud', 'test');
    assert.deepEqual(test.changeFailureRate, { failed: 1, rate: 1, band: 'low' });
    assert.equal(test.restores, 0, 'its restore started after the period');
    assert.deepEqual(test.recoveryTime, { samples: 1, medianMs: 2 * HOUR, p90Ms: 2 * HOUR, unrecovered: 0, band: 'high' }, 'restored after the period, still measured');

    const dev = row(report.metrics, 'fraud', 'dev');
    assert.equal(dev.deployments, 0);
    assert.equal(dev.deploymentFrequency.band, 'low', 'an environment that had no deployment in the period still gets a row');
  });

  it('pools every environment of a model into one row when asked', async () => {
    const report = await readDora(t.db, { model: 'fraud', from: FROM, to: TO, allEnvironments: true });
    const all = row(report.metrics, 'fraud', ALL_ENVIRONMENTS);
    assert.equal(all.deployments, 8);
    assert.equal(all.restores, 2);
    assert.deepEqual(all.changeFailureRate, { failed: 2, rate: 0.25, band: 'low' });
    assert.deepEqual([all.leadTime.samples, all.leadTime.medianMs], [5, 2 * HOUR], 'median of 30m, 1h, 2h, 4h, 6h');
    assert.deepEqual([all.recoveryTime.medianMs, all.recoveryTime.p90Ms], [75 * MIN, 2 * HOUR]);
  });

  it('covers every model unless one is named, and narrows to one environment', async () => {
    const everything = await readDora(t.db, { from: FROM, to: TO });
    const models = new Set(everything.metrics.map((m) => m.model));
    assert.ok(models.has('churn') && models.has('fraud'), `models: ${[...models].join(', ')}`);
    assert.equal(row(everything.metrics, 'churn', 'prod').deployments, 1);

    const prodOnly = await readDora(t.db, { env: 'prod', from: FROM, to: TO });
    assert.ok(prodOnly.metrics.every((m) => m.env === 'prod'));
    assert.equal(row(prodOnly.metrics, 'fraud', 'prod').deployments, 5);
    assert.equal(row(prodOnly.metrics, 'churn', 'prod').deployments, 1);
  });

  it('refuses a malformed name or period naming the field, and an unknown model as not found', async () => {
    await assert.rejects(readDora(t.db, { model: '$where', from: FROM, to: TO }), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'model');
    await assert.rejects(readDora(t.db, { env: 'prod.eu', from: FROM, to: TO }), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'env');
    await assert.rejects(readDora(t.db, { from: TO, to: FROM }), (err: unknown) => err instanceof InvalidInputError && err.problems[0]?.field === 'to');
    await assert.rejects(readDora(t.db, { model: 'nope', from: FROM, to: TO }), NotFoundError);
  });

  describe('GET /dora on the API', () => {
    const TOKEN = 'viewer-token-0123456789';

    async function api() {
      const auth = new Authenticator({ tokens: [{ user: 'vera', token: TOKEN, roles: ['viewer'], approves: [] }] });
      return buildApi({ db: t.db, auth, clock: () => TO });
    }

    it('answers with the same numbers, the cited report and the band rules', async () => {
      const app = await api();
      try {
        const res = await app.inject({ method: 'GET', url: '/dora?model=fraud&env=prod&since=7d', headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.since, '7d');
        assert.deepEqual(body.period, { from: FROM.toISOString(), to: TO.toISOString(), days: 7 });
        assert.match(body.source.report, /Accelerate State of DevOps Report 2023/);
        assert.ok(Array.isArray(body.bandRules.recoveryTime));
        assert.equal(body.metrics.length, 1);
        assert.equal(body.metrics[0].deployments, 5);
        assert.equal(body.metrics[0].changeFailureRate.rate, 0.2);
        const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
        assert.ok(openapi.paths['/dora'], 'the route is in the OpenAPI document');
      } finally {
        await app.close();
      }
    });

    it('rejects a bad look-back or name with 400 naming the field, an unknown model with 404, and no token with 401', async () => {
      const app = await api();
      try {
        const auth = { authorization: `Bearer ${TOKEN}` };
        const badSince = await app.inject({ method: 'GET', url: '/dora?since=30days', headers: auth });
        assert.equal(badSince.statusCode, 400, badSince.body);
        assert.match(badSince.json().error.message, /since/);
        const badModel = await app.inject({ method: 'GET', url: '/dora?model=%24where', headers: auth });
        assert.equal(badModel.statusCode, 400, badModel.body);
        assert.match(badModel.json().error.message, /model/);
        assert.equal((await app.inject({ method: 'GET', url: '/dora?model=nope', headers: auth })).statusCode, 404);
        assert.equal((await app.inject({ method: 'GET', url: '/dora' })).statusCode, 401);
      } finally {
        await app.close();
      }
    });
  });

  describe('slipway dora', () => {
    // The CLI measures back from the real "now", so it gets its own model on the real clock.
    before(async () => {
      const real = Date.now();
      await register('cli', '1.0.0', new Date(real - 2 * DAY - 3 * HOUR));
      await register('cli', '1.0.1', new Date(real - DAY - HOUR));
      await deploy('cli', 'prod', '1.0.0', new Date(real - 2 * DAY)); // lead 3h
      await deploy('cli', 'prod', '1.0.1', new Date(real - DAY));
      await undo('cli', 'prod', '1.0.1', new Date(real - DAY + 15 * MIN)); // recovery 15m
    });

    function slipwayDora(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
      // cli/main.ts is wired by its owner; this builds the same program shape around registerDoraCommand alone.
      const script = [
        "require('tsx/cjs');",
        "const { Command } = require('commander');",
        "const { registerDoraCommand } = require('./cli/commands/dora.ts');",
        "const program = new Command('slipway').option('--json').exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));",
        'registerDoraCommand(program);',
        "void program.parseAsync(process.argv.slice(1), { from: 'user' });",
      ].join('\n');
      const { NODE_TEST_CONTEXT: _runnerOnly, ...inherited } = process.env;
      return new Promise((resolve) => {
        execFile(process.execPath, ['-e', script, ...args], { cwd: REPO_ROOT, env: { ...inherited, SLIPWAY_MONGODB_URI: t.uri }, timeout: 60_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
        });
      });
    }

    it('prints one JSON document with the metrics under --json', async () => {
      const run = await slipwayDora(['dora', '--model', 'cli', '--since', '7d', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { since: string; metrics: DoraMetrics[] };
      assert.equal(out.since, '7d');
      const prod = row(out.metrics, 'cli', 'prod');
      assert.equal(prod.deployments, 2);
      assert.deepEqual(prod.changeFailureRate, { failed: 1, rate: 0.5, band: 'low' });
      assert.equal(prod.leadTime.medianMs, 3 * HOUR);
      assert.equal(prod.recoveryTime.medianMs, 15 * MIN);
    });

    it('prints a table with bands and the cited report for people', async () => {
      const run = await slipwayDora(['dora', '--model', 'cli', '--all-envs']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^cli\s+prod\s+2\s+1\s+0\.07 medium\s+3h \/ 3h elite\s+1\/2 50\.0% low\s+15m \/ 15m elite$/m);
      assert.match(run.stdout, /^cli\s+\* \(all\)/m);
      assert.match(run.stdout, /Accelerate State of DevOps Report 2023, DORA \(DevOps Research and Assessment\), Google Cloud/);
    });

    it('exits 2 for a bad --since and 3 for an unknown model', async () => {
      const bad = await slipwayDora(['dora', '--since', '30 days']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--since: invalid duration/);
      const unknown = await slipwayDora(['dora', '--model', 'nope']);
      assert.equal(unknown.code, 3, unknown.stderr);
    });
  });
});

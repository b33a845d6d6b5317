import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import { Authenticator, sha256Hex } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { registerModel, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestDb, type TestTemporal } from '../support/stack';
import { listenOnLoopback } from '../support/api';

const TOKENS = {
  viewer: 'viewer-token-0123456789',
  releaser: 'releaser-token-0123456789',
  bob: 'bob-approver-token-0123456789',
  carol: 'carol-approver-token-0123456789',
  expired: 'expired-token-0123456789abc',
  admin: 'admin-token-0123456789abcdef',
};

const PIPELINES = {
  gated: `
name: gated
stages:
  - env: dev
  - env: prod
    approval: { required: 2, approvers: [bob, carol, dave], timeout: 1h }
`,
};

describe('HTTP API over real HTTP, with the real stack behind it', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let app: FastifyInstance;
  let base: string;
  let oidcKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  const call = async (method: string, url: string, token?: string, body?: unknown, rawBody?: string) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined || rawBody ? { 'content-type': 'application/json' } : {}) },
      body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ t, temporal, service } = harness);
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    oidcKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const auth = new Authenticator(
      {
        tokens: [
          { user: 'vic', token: TOKENS.viewer, roles: ['viewer'], approves: [] },
          { user: 'rita', sha256: sha256Hex(TOKENS.releaser), roles: ['releaser'], approves: ['dev'] },
          { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: ['prod'] },
          { user: 'carol', token: TOKENS.carol, roles: ['viewer'], approves: ['*'] },
          { user: 'ada', token: TOKENS.admin, roles: ['admin'], approves: [] },
          { user: 'old', token: TOKENS.expired, roles: ['admin'], approves: ['*'], expiresAt: '2020-01-01T00:00:00Z' },
        ],
      },
      {
        issuer: 'https://idp.example.test',
        audience: 'slipway',
        jwks: createLocalJWKSet({ keys: [jwk] }),
        users: { users: [{ issuer: 'https://idp.example.test', subject: 'idp-olga-1', user: 'olga', roles: ['viewer'], approves: [], rollsBack: [] }] },
      },
    );
    app = await buildApi({ db: t.db, releases: service, auth, mutationsPerMinute: 1000 });
    base = await listenOnLoopback(app);
  });
  after(async () => {
    await app?.close();
    await harness?.close();
  });

  it('answers health without a token and publishes a valid OpenAPI 3 document', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const doc = (await call('GET', '/openapi.json')).body;
    assert.match(String(doc.openapi), /^3\./);
    for (const p of ['/releases', '/releases/{id}', '/releases/{id}/approvals', '/models/{model}', '/models/{model}/deployments', '/environments/{env}', '/pipelines', '/pipelines/{name}', '/models/{model}/binding']) {
      assert.ok(doc.paths[p], `OpenAPI lacks ${p}`);
    }
    const body = doc.paths['/releases'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required.sort(), ['model', 'version']);
    assert.equal(body.additionalProperties, false, 'unknown fields are rejected, and the document says so');
  });

  it('refuses missing, invalid, expired and under-privileged callers with 401/403 and changes nothing', async () => {
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    const start = { model, version: '1', pipeline: 'gated' };
    assert.equal((await call('POST', '/releases', undefined, start)).status, 401);
    assert.equal((await call('POST', '/releases', 'not-a-real-token-at-all', start)).status, 401);
    const expired = await call('POST', '/releases', TOKENS.expired, start);
    assert.equal(expired.status, 401);
    assert.match(expired.body.error.message, /expired/);
    const forbidden = await call('POST', '/releases', TOKENS.viewer, start);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, 'forbidden');
    assert.equal((await call('POST', `/models/${model}/versions`, TOKENS.viewer, { version: '2', artifact: { uri: 's3://x', sha256: 'd'.repeat(64) } })).status, 403);
    assert.equal(await service.releases.releases.countDocuments({ model }), 0, 'no release was recorded');
    await assert.rejects(temporal.client.workflow.getHandle(`release-${model}-1`).describe(), /not found/i);
    assert.equal(await service.registry.versions.countDocuments({ model }), 1);
  });

  it('starts a release as the token\'s user and takes approvals only under the caller\'s own identity', async () => {
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    // Through the API a release runs the model's binding, which only an admin sets.
    assert.equal((await call('PUT', '/pipelines', TOKENS.admin, { source: PIPELINES.gated, file: 'gated.yaml' })).status < 300, true);
    assert.equal((await call('PUT', `/models/${model}/binding`, TOKENS.admin, { pipeline: 'gated' })).status, 200);
    const started = await call('POST', '/releases', TOKENS.releaser, { model, version: '1', pipeline: 'gated' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.releaseId as string;
    await waitForState(service, id, (s) => s.status === 'awaiting_approval');
    const state = await call('GET', `/releases/${id}`, TOKENS.viewer);
    assert.equal(state.body.requestedBy, 'rita');

    // Naming someone else in the body is not a thing the API accepts.
    const spoof = await call('POST', `/releases/${id}/approvals`, TOKENS.releaser, { stage: 'prod', approver: 'bob' });
    assert.equal(spoof.status, 400);
    assert.match(spoof.body.error.message, /approver/);
    // rita may approve only dev.
    assert.equal((await call('POST', `/releases/${id}/approvals`, TOKENS.releaser, { stage: 'prod' })).status, 403);

    const bob = await call('POST', `/releases/${id}/approvals`, TOKENS.bob, { stage: 'prod', comment: 'ok' });
    assert.equal(bob.status, 200);
    assert.deepEqual(bob.body.quorum.approvedBy, ['bob']);
    const again = await call('POST', `/releases/${id}/approvals`, TOKENS.bob, { stage: 'prod' });
    assert.equal(again.body.outcome, 'duplicate');
    const carol = await call('POST', `/releases/${id}/approvals`, TOKENS.carol, { stage: 'prod' });
    assert.equal(carol.body.quorum.met, true);
    const final = await service.result(id);
    assert.equal(final.status, 'succeeded');

    const deployments = await call('GET', `/models/${model}/deployments?env=prod`, TOKENS.viewer);
    assert.equal(deployments.body.history[0].version, '1');
    const then = await call('GET', `/models/${model}/deployments?at=${encodeURIComponent(new Date().toISOString())}`, TOKENS.viewer);
    assert.equal(then.body.model, model);
    assert.equal(then.body.environments.find((e: { env: string }) => e.env === 'prod')?.version, '1');
    const env = await call('GET', '/environments/prod', TOKENS.viewer);
    assert.ok(env.body.live.some((p: { model: string }) => p.model === model));
    const list = await call('GET', `/releases?model=${model}&limit=1`, TOKENS.viewer);
    assert.equal(list.body.items[0].releaseId, id);
  });

  it('rejects malformed bodies, unknown fields, oversize bodies and operator injection with 400/413 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ model: { $gt: '' }, version: '1' }, /model/],
      [{ model: 'fraud', version: 7 }, /version/],
      [{ model: 'fraud', version: '1', requestedBy: 'someone-else' }, /requestedBy/],
      [{ model: '$where', version: '1' }, /model/],
      [{ model: 'a.b', version: '1' }, /model/],
      [['model', 'fraud'], /body/],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', '/releases', TOKENS.releaser, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error.message, field);
    }
    assert.equal((await call('POST', '/releases', TOKENS.releaser, undefined, '{"model": "x", ')).status, 400);
    const huge = await call('POST', '/releases', TOKENS.releaser, undefined, JSON.stringify({ model: 'x'.repeat(200_000), version: '1' }));
    assert.equal(huge.status, 413);
    const injected = await call('GET', '/releases?model[$ne]=x', TOKENS.viewer);
    assert.equal(injected.status, 400);
    assert.equal((await call('GET', '/releases?status=exploded', TOKENS.viewer)).status, 400);
  });

  it('accepts an OIDC token signed by the trusted issuer for a mapped subject and refuses one for another audience', async () => {
    const sign = (aud: string) =>
      new SignJWT({ preferred_username: 'olga', slipway_roles: ['viewer'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://idp.example.test')
        .setSubject('idp-olga-1')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(oidcKey);
    assert.equal((await call('GET', '/releases', await sign('slipway'))).status, 200);
    assert.equal((await call('GET', '/releases', await sign('someone-else'))).status, 401);
  });

  it('rate-limits mutating requests per caller', async () => {
    const limited = await buildApi({ db: t.db, releases: service, auth: new Authenticator({ tokens: [{ user: 'rita', token: TOKENS.releaser, roles: ['releaser'], approves: [], reportsHealth: ['prod'] }] }), mutationsPerMinute: 3 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.inject({ method: 'POST', url: '/health-reports', headers: { authorization: `Bearer ${TOKENS.releaser}` }, payload: { model: 'm', env: 'prod', version: '1', healthy: true } });
        codes.push(res.statusCode);
      }
      assert.deepEqual(codes, [202, 202, 202, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('lets only an admin apply pipelines and bind models, and viewers read both', async () => {
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    const name = `api-${model}`;
    const source = `name: ${name}\nstages:\n  - env: dev\n`;
    const refused = await call('PUT', '/pipelines', TOKENS.releaser, { source });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'forbidden');
    assert.equal((await call('GET', `/pipelines/${name}`, TOKENS.viewer)).status, 404, 'a refused apply stored nothing');

    const applied = await call('PUT', '/pipelines', TOKENS.admin, { source, file: 'api.yaml' });
    assert.equal(applied.status, 201, JSON.stringify(applied.body));
    assert.deepEqual({ name: applied.body.name, revision: applied.body.revision, changed: applied.body.changed }, { name, revision: 1, changed: true });
    const again = await call('PUT', '/pipelines', TOKENS.admin, { source, file: 'api.yaml' });
    assert.deepEqual({ status: again.status, changed: again.body.changed, revision: again.body.revision }, { status: 200, changed: false, revision: 1 });

    const shown = await call('GET', `/pipelines/${name}`, TOKENS.viewer);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.appliedBy, 'ada', 'the audit actor is the token user');
    assert.equal(shown.body.source, source);
    assert.ok((await call('GET', '/pipelines', TOKENS.viewer)).body.pipelines.some((p: { name: string }) => p.name === name));

    assert.equal((await call('PUT', `/models/${model}/binding`, TOKENS.releaser, { pipeline: name })).status, 403);
    assert.equal((await call('GET', `/models/${model}/binding`, TOKENS.viewer)).status, 404);
    const bound = await call('PUT', `/models/${model}/binding`, TOKENS.admin, { pipeline: name });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const binding = await call('GET', `/models/${model}/binding`, TOKENS.viewer);
    assert.deepEqual({ pipeline: binding.body.pipeline, boundBy: binding.body.boundBy }, { pipeline: name, boundBy: 'ada' });
  });

  it('refuses a bad pipeline with 400 naming file and path, a bind to a missing pipeline, and a release naming another pipeline than its binding', async () => {
    const bad = await call('PUT', '/pipelines', TOKENS.admin, { source: 'name: bad\nstages:\n  - env: dev\n    target: k8s\n', file: 'bad.yaml' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.problems[0].field, 'bad.yaml:stages[0].target');
    assert.match(bad.body.error.message, /unknown deploy target "k8s"/);
    // This API lists no SLIPWAY_SECRET_ENV_ALLOW: no pipeline may name a secret variable.
    const secret = await call('PUT', '/pipelines', TOKENS.admin, { source: 'name: leaky\nstages:\n  - env: dev\n    gates:\n      - { type: webhook, url: "https://x.example.com/", secretEnv: SLIPWAY_API_SIGNING_KEY }\n', file: 'leaky.yaml' });
    assert.equal(secret.status, 400);
    assert.equal(secret.body.error.problems[0].field, 'leaky.yaml:stages[0].gates[0].secretEnv');
    assert.match(secret.body.error.problems[0].reason, /SLIPWAY_API_SIGNING_KEY is one of Slipway's or Temporal's own variables/);
    assert.equal((await call('GET', '/pipelines/leaky', TOKENS.viewer)).status, 404, 'nothing stored');

    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    const missing = await call('PUT', `/models/${model}/binding`, TOKENS.admin, { pipeline: 'never-applied' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.problems[0].field, 'pipeline');

    const unbound = await call('POST', '/releases', TOKENS.releaser, { model, version: '1' });
    assert.equal(unbound.status, 400);
    assert.match(unbound.body.error.message, /slipway model bind/);
    assert.equal((await service.policy.binding(model)), null, 'starting through the API never binds');

    await call('PUT', '/pipelines', TOKENS.admin, { source: PIPELINES.gated, file: 'gated.yaml' });
    await call('PUT', `/models/${model}/binding`, TOKENS.admin, { pipeline: 'gated' });
    const other = await call('POST', '/releases', TOKENS.releaser, { model, version: '1', pipeline: 'default' });
    assert.equal(other.status, 400);
    assert.equal(other.body.error.problems[0].field, 'pipeline');
    assert.match(other.body.error.message, new RegExp(`${model} is bound to gated; an admin rebinds with \`slipway model bind`));
    assert.equal(await service.releases.releases.countDocuments({ model }), 0, 'no release was started');
  });
});

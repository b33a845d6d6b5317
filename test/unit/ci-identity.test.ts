/**
 * CI ID tokens (GitHub Actions and GitLab CI claim shapes) signed with a real
 * RS256 key, verified against a JWKS served over loopback HTTP, and mapped to
 * identities by the rules file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { AuthFailure, Authenticator, remoteJwks } from '../../api/auth';
import { CiIdentityVerifier, loadCiRulesFile, matchRule, parseCiRules, renderName, type CiRules } from '../../api/ci-identity';
import { canReportHealth } from '../../api/permissions';
import { startLocalServer, type LocalServer } from '../support/local-http';

const GITHUB = 'https://token.actions.githubusercontent.com';
const GITLAB = 'https://gitlab.example.com';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

function githubClaims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: GITHUB,
    aud: 'slipway',
    sub: 'repo:acme/fraud-model:ref:refs/heads/main',
    repository: 'acme/fraud-model',
    ref: 'refs/heads/main',
    actor: 'octocat',
    environment: 'prod',
    workflow: 'release',
    run_id: '123456789',
    ...over,
  };
}

function gitlabClaims(over: JWTPayload = {}): JWTPayload {
  return { iss: GITLAB, aud: 'slipway', sub: 'project_path:acme/fraud:ref_type:branch:ref:main', project_path: 'acme/fraud', ref: 'main', ref_protected: 'true', user_login: 'gl-dev', pipeline_id: '42', ...over };
}

async function sign(key: Key, claims: JWTPayload, expiresIn: string | null = '5m'): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'ci-1' }).setIssuedAt();
  if (expiresIn !== null) jwt.setExpirationTime(expiresIn);
  return jwt.sign(key);
}

describe('CI identities from OIDC ID tokens', () => {
  let key: Key;
  let otherKey: Key;
  let jwks: LocalServer;
  let rules: CiRules;
  let verifier: CiIdentityVerifier;

  before(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'ci-1', alg: 'RS256', use: 'sig' };
    jwks = await startLocalServer(() => ({ status: 200, body: { keys: [jwk] } }));
    rules = parseCiRules(
      {
        issuers: [
          { issuer: GITHUB, audience: 'slipway', jwksUrl: `${jwks.url}/github/jwks` },
          { issuer: GITLAB, audience: 'slipway', jwksUrl: `${jwks.url}/gitlab/jwks` },
        ],
        rules: [
          { match: { iss: GITHUB, repository: 'acme/fraud-model', ref: 'refs/heads/main' }, user: 'ci:github:{repository}', actor: '{actor}', roles: ['releaser'] },
          { match: { iss: GITLAB, project_path: 'acme/fraud', ref_protected: 'true' }, user: 'ci:gitlab:{project_path}', actor: '{user_login}', roles: ['releaser'] },
        ],
      },
      'rules.yaml',
    );
    verifier = new CiIdentityVerifier(rules, remoteJwks);
  });
  after(async () => {
    await jwks?.close();
  });

  async function refused(token: string, pattern: RegExp): Promise<void> {
    await assert.rejects(verifier.verify(token), (err: unknown) => {
      assert.ok(err instanceof AuthFailure, String(err));
      assert.equal(err.status, 401);
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('maps a GitHub Actions token from main of the bound repository to its CI user, actor and roles, with keys fetched from the JWKS URL', async () => {
    const principal = await verifier.verify(await sign(key, githubClaims()));
    assert.deepEqual(principal, { user: 'ci-github-acme-fraud-model', actor: 'octocat', roles: ['releaser'], approves: [], rollsBack: [], via: 'oidc', issuer: GITHUB });
    assert.ok(jwks.requests.some((r) => r.path === '/github/jwks'));
  });

  it('gives the reportsHealth grant only to a CI rule that names it, so the release job cannot report its own health', async () => {
    const monitoring = new CiIdentityVerifier(
      parseCiRules(
        {
          issuers: [{ issuer: GITHUB, audience: 'slipway', jwksUrl: `${jwks.url}/github/jwks` }],
          rules: [
            { match: { iss: GITHUB, repository: 'acme/fraud-model', workflow: 'health' }, user: 'ci:health:{repository}', roles: ['viewer'], reportsHealth: ['prod'] },
            { match: { iss: GITHUB, repository: 'acme/fraud-model' }, user: 'ci:github:{repository}', roles: ['releaser'] },
          ],
        },
        'rules.yaml',
      ),
      remoteJwks,
    );
    const reporter = await monitoring.verify(await sign(key, githubClaims({ workflow: 'health' })));
    assert.deepEqual(reporter.reportsHealth, ['prod']);
    assert.equal(canReportHealth(reporter, 'prod'), true);
    assert.equal(canReportHealth(reporter, 'staging'), false);
    const releaser = await monitoring.verify(await sign(key, githubClaims()));
    assert.equal(releaser.reportsHealth, undefined);
    assert.equal(canReportHealth(releaser, 'prod'), false);
  });

  it('maps a GitLab CI token from a protected ref to its CI user and the user who ran the pipeline', async () => {
    const principal = await verifier.verify(await sign(key, gitlabClaims()));
    assert.equal(principal.user, 'ci-gitlab-acme-fraud');
    assert.equal(principal.actor, 'gl-dev');
    assert.equal(principal.issuer, GITLAB);
  });

  it('refuses a token from another repository, naming its claims', async () => {
    await refused(await sign(key, githubClaims({ repository: 'mallory/fork', sub: 'repo:mallory/fork:ref:refs/heads/main' })), /no CI rule matches.*repository="mallory\/fork"/);
  });

  it('refuses a GitLab token from an unprotected ref', async () => {
    await refused(await sign(key, gitlabClaims({ ref_protected: 'false' })), /no CI rule matches.*ref_protected="false"/);
  });

  it('refuses an expired token, a token without exp, a wrong audience and a token signed by another key', async () => {
    const expired = await sign(key, { ...githubClaims(), exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 900 }, null);
    await refused(expired, /"exp" claim timestamp check failed/);
    await refused(await sign(key, githubClaims(), null), /missing required "exp" claim/);
    await refused(await sign(key, githubClaims({ aud: 'someone-else' })), /unexpected "aud" claim value/);
    await refused(await sign(otherKey, githubClaims()), /signature verification failed|no applicable key/);
  });

  it('is reached through the Authenticator only for configured CI issuers; other tokens keep their own path', async () => {
    const auth = new Authenticator({ tokens: [{ user: 'rita', token: 'rita-releaser-token-0123456789', roles: ['releaser'], approves: [] }] }, undefined, undefined, verifier);
    assert.equal((await auth.authenticate(`Bearer ${await sign(key, githubClaims())}`)).user, 'ci-github-acme-fraud-model');
    assert.equal((await auth.authenticate('Bearer rita-releaser-token-0123456789')).user, 'rita');
    const foreign = await sign(key, githubClaims({ iss: 'https://elsewhere.example' }));
    await assert.rejects(auth.authenticate(`Bearer ${foreign}`), /invalid token/);
  });
});

describe('CI rules: matching, names and the rules file', () => {
  it('takes the first matching rule and compares claims as text', () => {
    const rules = parseCiRules(
      {
        issuers: [{ issuer: GITLAB, audience: 'slipway', jwksUrl: 'https://gitlab.example.com/oauth/discovery/keys' }],
        rules: [
          { match: { iss: GITLAB, project_path: 'acme/fraud', ref_protected: true }, user: 'first', roles: ['releaser'] },
          { match: { iss: GITLAB }, user: 'fallback', roles: ['viewer'] },
        ],
      },
      'r.yaml',
    );
    assert.equal(matchRule(rules.rules, gitlabClaims())?.user, 'first');
    assert.equal(matchRule(rules.rules, gitlabClaims({ ref_protected: 'false' }))?.user, 'fallback');
    assert.equal(matchRule(rules.rules, { iss: GITHUB }), undefined);
  });

  it('renders names the release records accept, and refuses a template whose claim is missing', () => {
    assert.equal(renderName('ci:github:{repository}', githubClaims(), 'user'), 'ci-github-acme-fraud-model');
    assert.throws(() => renderName('{actor}', { iss: GITHUB }, 'actor'), /no "actor" claim, which the CI rule's actor template/);
    assert.throws(() => renderName('{x}', { x: 'a'.repeat(80) }, 'user'), /not a name of 1-64 characters/);
  });

  it('names the file and field of a bad rules file: plain-http JWKS off loopback, a rule for an unlisted issuer, a missing role', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-ci-rules-'));
    const file = path.join(dir, 'ci.yaml');
    fs.writeFileSync(
      file,
      `issuers:
  - issuer: ${GITHUB}
    audience: slipway
    jwksUrl: http://token.actions.githubusercontent.com/.well-known/jwks
rules:
  - match: { iss: ${GITLAB} }
    user: "ci:{project_path}"
    roles: []
`,
    );
    assert.throws(() => loadCiRulesFile(file), (err: Error) => {
      assert.match(err.message, new RegExp(`SLIPWAY_CI_OIDC_RULES: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid`));
      assert.match(err.message, /issuers\.0\.jwksUrl: jwksUrl must be https:\/\//);
      assert.match(err.message, /rules\.0\.roles: give at least one role/);
      return true;
    });
    fs.writeFileSync(file, `issuers: [{ issuer: ${GITHUB}, audience: slipway, jwksUrl: https://x.example/jwks }]\nrules: [{ match: { iss: ${GITLAB} }, user: u, roles: [viewer] }]\n`);
    assert.throws(() => loadCiRulesFile(file), /rules\.0\.match\.iss: "https:\/\/gitlab\.example\.com" is not one of the issuers/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

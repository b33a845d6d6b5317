/**
 * OIDC identities are issuer + subject, mapped to Slipway users by
 * SLIPWAY_OIDC_USERS: tokens signed with a real ES256 key, verified against
 * a JWKS served on 127.0.0.1. Names and roles in claims never count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { AuthFailure, Authenticator, remoteJwks } from '../../api/auth';
import { jwksUrlProblem, parseOidcUsers, type OidcUsers } from '../../api/oidc-identity';
import { loadConfig } from '../../config';
import { startLocalServer, type LocalServer } from '../support/local-http';

const ISSUER = 'https://idp.example.test';
const OTHER_ISSUER = 'https://evil.example.test';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

async function sign(key: Key, claims: JWTPayload, options: { exp?: boolean; kid?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ aud: 'slipway', ...claims }).setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'idp-1' }).setIssuedAt();
  if (options.exp !== false) jwt.setExpirationTime('5m');
  return jwt.sign(key);
}

describe('OIDC identities: issuer + subject, mapped by SLIPWAY_OIDC_USERS', () => {
  let key: Key;
  let otherKey: Key;
  let jwks: LocalServer;
  let auth: Authenticator;
  const users: OidcUsers = parseOidcUsers(
    {
      users: [
        { issuer: ISSUER, subject: '00u-alice', user: 'alice', roles: ['viewer'], approves: ['prod'] },
        { issuer: ISSUER, subject: '00u-ops', user: 'ops', roles: ['admin'], rollsBack: ['*'] },
      ],
    },
    'oidc-users.yaml',
    ISSUER,
  );

  before(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
    jwks = await startLocalServer(() => ({ status: 200, body: { keys: [jwk] } }));
    auth = new Authenticator({ tokens: [] }, { issuer: ISSUER, audience: 'slipway', jwks: remoteJwks(`${jwks.url}/jwks`), users });
  });
  after(async () => {
    await jwks?.close();
  });

  async function refused(token: string, pattern: RegExp): Promise<void> {
    await assert.rejects(auth.authenticate(`Bearer ${token}`), (err: unknown) => {
      assert.ok(err instanceof AuthFailure, String(err));
      assert.equal(err.status, 401);
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('maps issuer + subject to the configured user and roles, with keys fetched from the JWKS URL on loopback', async () => {
    const principal = await auth.authenticate(`Bearer ${await sign(key, { iss: ISSUER, sub: '00u-alice' })}`);
    assert.deepEqual(principal, { user: 'alice', roles: ['viewer'], approves: ['prod'], rollsBack: [], via: 'oidc', issuer: ISSUER });
    assert.ok(jwks.requests.some((r) => r.path === '/jwks'));
  });

  it('ignores whatever name, email and role claims the token carries: only the subject picks the user', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ preferred_username: fc.constantFrom('ops', 'admin', 'alice', 'root'), email: fc.constantFrom('ops', 'ops@example.com', 'alice'), slipway_roles: fc.constant(['admin']), slipway_approves: fc.constant(['*']), slipway_rolls_back: fc.constant(['*']) }, { requiredKeys: [] }),
        async (claims) => {
          const principal = await auth.authenticate(`Bearer ${await sign(key, { ...claims, iss: ISSUER, sub: '00u-alice' })}`);
          assert.equal(principal.user, 'alice');
          assert.deepEqual(principal.roles, ['viewer']);
          assert.deepEqual(principal.approves, ['prod']);
          assert.deepEqual(principal.rollsBack, []);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('refuses a subject the mapping does not list, even when its email or username names a mapped user', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s !== '00u-alice' && s !== '00u-ops'), fc.constantFrom('alice', 'ops'), async (sub, name) => {
        await refused(await sign(key, { iss: ISSUER, sub, email: name, preferred_username: name }), /no Slipway user for issuer .* SLIPWAY_OIDC_USERS/);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a token without exp, without sub, from another issuer, or signed by another key', async () => {
    await refused(await sign(key, { iss: ISSUER, sub: '00u-ops' }, { exp: false }), /"exp" claim/);
    await refused(await sign(key, { iss: ISSUER }), /"sub" claim/);
    await refused(await sign(key, { iss: OTHER_ISSUER, sub: '00u-ops' }), /"iss" claim/);
    await refused(await sign(otherKey, { iss: ISSUER, sub: '00u-ops' }), /signature verification failed/);
  });

  it('fetches signing keys only over https, or plain http on loopback, for OIDC and CI alike', () => {
    assert.equal(jwksUrlProblem('https://idp.example.com/keys'), undefined);
    for (const local of ['http://127.0.0.1:9/jwks', 'http://localhost/jwks', 'http://[::1]:8080/jwks']) assert.equal(jwksUrlProblem(local), undefined);
    fc.assert(
      fc.property(fc.domain().filter((d) => d !== 'localhost'), fc.constantFrom('http', 'ftp', 'ws'), (host, scheme) => {
        const url = `${scheme}://${host}/jwks`;
        assert.match(jwksUrlProblem(url) ?? '', /must be https/);
        assert.throws(() => remoteJwks(url), /SLIPWAY_OIDC_JWKS_URL: .* must be https/);
      }),
    );
    assert.throws(() => remoteJwks('http://10.0.0.8/jwks', 'SLIPWAY_CI_OIDC_RULES jwksUrl'), /^Error: SLIPWAY_CI_OIDC_RULES jwksUrl: "http:\/\/10\.0\.0\.8\/jwks" must be https/);
  });

  it('names the file and field of a bad mapping: another issuer, a subject listed twice, a plain-name rule broken, no role', () => {
    const bad = (users: unknown, pattern: RegExp) => assert.throws(() => parseOidcUsers({ users }, 'users.yaml', ISSUER), pattern);
    bad([{ issuer: OTHER_ISSUER, subject: 's', user: 'x', roles: ['viewer'] }], /SLIPWAY_OIDC_USERS: users\.yaml is invalid: users\.0\.issuer: "https:\/\/evil\.example\.test" is not SLIPWAY_OIDC_ISSUER/);
    bad([{ issuer: ISSUER, subject: 's', user: 'x', roles: ['viewer'] }, { issuer: ISSUER, subject: 's', user: 'y', roles: ['viewer'] }], /users\.1: .* listed twice/);
    bad([{ issuer: ISSUER, subject: 's', user: 'has space', roles: ['viewer'] }], /users\.0\.user: user must be a plain name/);
    bad([{ issuer: ISSUER, subject: 's', user: 'x', roles: [] }], /users\.0\.roles: give at least one role/);
    bad([{ issuer: ISSUER, subject: 's', user: 'x', roles: ['viewer'], email: 'x@example.com' }], /users\.0: Unrecognized key/);
  });

  it('refuses OIDC settings without SLIPWAY_OIDC_USERS, saying claims names are not trusted', () => {
    const oidc = { SLIPWAY_OIDC_ISSUER: ISSUER, SLIPWAY_OIDC_AUDIENCE: 'slipway', SLIPWAY_OIDC_JWKS_URL: 'https://idp.example.test/keys' };
    assert.throws(() => loadConfig(oidc), /OIDC needs SLIPWAY_OIDC_USERS/);
    assert.equal(loadConfig({ ...oidc, SLIPWAY_OIDC_USERS: '/etc/slipway/oidc-users.yaml' }).oidc?.usersFile, '/etc/slipway/oidc-users.yaml');
  });
});

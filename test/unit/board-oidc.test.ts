import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../config';
import { authorizeUrl, base64url, checkDiscovery, loginAnswer, pickToken, pkceChallenge, randomToken } from '../../ui/pkce';

const ISSUER = 'https://idp.example.test';
const doc = (over: Record<string, unknown> = {}) => ({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token`, ...over });
const OIDC_ENV = { SLIPWAY_OIDC_ISSUER: ISSUER, SLIPWAY_OIDC_AUDIENCE: 'slipway', SLIPWAY_OIDC_JWKS_URL: `${ISSUER}/keys`, SLIPWAY_OIDC_USERS: '/nonexistent/users.yaml' };

describe('board OIDC login helpers', () => {
  it('computes the S256 challenge of RFC 7636 appendix B', async () => {
    assert.equal(await pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('makes verifiers of 43 base64url characters that differ each time, and encodes any bytes as node does', async () => {
    const a = randomToken();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, randomToken());
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => assert.equal(base64url(bytes), Buffer.from(bytes).toString('base64url'))));
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 43, maxLength: 128 }), async (v) => assert.equal(await pkceChallenge(v), createHash('sha256').update(v).digest('base64url'))));
  });

  it('asks for a code with S256, state, scope openid and the redirect URI, all encoded', () => {
    const url = new URL(authorizeUrl(checkDiscovery(doc({ authorization_endpoint: `${ISSUER}/authorize?tenant=a` }), ISSUER), { clientId: 'board & co', redirectUri: 'http://127.0.0.1:8787/', challenge: 'c', state: 's' }));
    assert.equal(url.origin + url.pathname, `${ISSUER}/authorize`);
    assert.deepEqual(Object.fromEntries(url.searchParams), { tenant: 'a', response_type: 'code', client_id: 'board & co', redirect_uri: 'http://127.0.0.1:8787/', scope: 'openid', state: 's', code_challenge: 'c', code_challenge_method: 'S256' });
  });

  it('refuses a discovery document of another issuer, with endpoints not https, or a token endpoint off the issuer\'s origin, naming what is wrong', () => {
    assert.throws(() => checkDiscovery(doc({ issuer: 'https://evil.example' }), ISSUER), /names issuer "https:\/\/evil.example", not SLIPWAY_OIDC_ISSUER/);
    assert.throws(() => checkDiscovery(doc({ authorization_endpoint: 'javascript:alert(1)' }), ISSUER), /authorization_endpoint "javascript:alert\(1\)" must be https/);
    assert.throws(() => checkDiscovery(doc({ token_endpoint: 'http://idp.example.test/token' }), ISSUER), /token_endpoint .* must be https/);
    assert.throws(() => checkDiscovery(doc({ token_endpoint: undefined }), ISSUER), /token_endpoint is missing/);
    assert.throws(() => checkDiscovery(doc({ token_endpoint: 'https://tokens.example.test/token' }), ISSUER), /not on the issuer's origin/);
    assert.throws(() => checkDiscovery(null, ISSUER), /names issuer "undefined"/);
  });

  it('never accepts, whatever the document says, an endpoint that is not https (or http on loopback)', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.webUrl({ validSchemes: ['http', 'https', 'ftp', 'javascript', 'data'] })), (endpoint) => {
      let accepted: ReturnType<typeof checkDiscovery> | undefined;
      try {
        accepted = checkDiscovery(doc({ authorization_endpoint: endpoint }), ISSUER);
      } catch {
        return;
      }
      const u = new URL(accepted.authorization_endpoint);
      assert.ok(u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)), endpoint);
    }));
  });

  it('keeps a JWT access token, else the JWT ID token, else nothing', () => {
    assert.equal(pickToken({ access_token: 'a.b.c', id_token: 'd.e.f' }), 'a.b.c');
    assert.equal(pickToken({ access_token: 'opaque', id_token: 'd.e.f' }), 'd.e.f');
    assert.equal(pickToken({ access_token: 'opaque' }), null);
    assert.equal(pickToken({ access_token: 42 }), null);
  });

  it('reads the issuer\'s answer from the address only when it carries a code or an error', () => {
    assert.equal(loginAnswer(''), null);
    assert.equal(loginAnswer('?foo=1'), null);
    assert.deepEqual(loginAnswer('?code=abc&state=xyz'), { code: 'abc', state: 'xyz', error: null });
    assert.deepEqual(loginAnswer('?error=access_denied&error_description=no%20thanks&state=s'), { code: null, state: 's', error: 'access_denied: no thanks' });
  });

  it('takes SLIPWAY_OIDC_CLIENT_ID only with an issuer the browser can trust, and never with spaces, naming the setting', () => {
    assert.equal(loadConfig({ ...OIDC_ENV, SLIPWAY_OIDC_CLIENT_ID: 'slipway-board' }).oidc?.clientId, 'slipway-board');
    assert.equal(loadConfig(OIDC_ENV).oidc?.clientId, undefined);
    assert.throws(() => loadConfig({ SLIPWAY_OIDC_CLIENT_ID: 'slipway-board' }), /SLIPWAY_OIDC_CLIENT_ID is set without SLIPWAY_OIDC_ISSUER/);
    assert.throws(() => loadConfig({ ...OIDC_ENV, SLIPWAY_OIDC_CLIENT_ID: 'has space' }), /SLIPWAY_OIDC_CLIENT_ID must be the public client id/);
    assert.throws(() => loadConfig({ ...OIDC_ENV, SLIPWAY_OIDC_ISSUER: 'http://idp.example.test', SLIPWAY_OIDC_CLIENT_ID: 'b' }), /SLIPWAY_OIDC_ISSUER: .* must be https:\/\//);
    assert.equal(loadConfig({ ...OIDC_ENV, SLIPWAY_OIDC_ISSUER: 'http://127.0.0.1:9000', SLIPWAY_OIDC_CLIENT_ID: 'b' }).oidc?.clientId, 'b');
  });
});

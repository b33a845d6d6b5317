/**
 * The board's OIDC login in Debian's chromium: the authorization code flow
 * with PKCE (S256) and state against a minimal provider started here on
 * 127.0.0.1, the real API verifying the provider's JWT, and the registry
 * database behind it. Skipped, with the reason, when no Chromium is found.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Authenticator, remoteJwks } from '../../api/auth';
import { BOARD_CSP, boardCsp } from '../../api/board-routes';
import { parseOidcUsers } from '../../api/oidc-identity';
import { buildApi } from '../../api/server';
import { listenOnLoopback } from '../support/api';
import { findChromium, launchChromium } from '../support/chromium';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider';
import { openTestDb, type TestDb } from '../support/stack';

const CLIENT_ID = 'slipway-board';
const AUDIENCE = 'slipway-api';
const SUBJECT = '00u-alice-7f3c';

const chromiumFound = findChromium();
const skip = 'missing' in chromiumFound ? `SKIPPED: ${chromiumFound.missing}` : false;

describe('release board OIDC login (code + PKCE) in Chromium against a local provider', () => {
  if (skip) {
    it('logs in through the OIDC issuer', { skip }, () => undefined);
    return;
  }
  let t: TestDb;
  let idp: TestOidcProvider;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    t = await openTestDb();
    idp = await startOidcProvider({ clientId: CLIENT_ID, audience: AUDIENCE, subject: SUBJECT });
    const users = parseOidcUsers({ users: [{ issuer: idp.issuer, subject: SUBJECT, user: 'alice', roles: ['viewer'], approves: ['prod'] }] }, 'test users', idp.issuer);
    const auth = new Authenticator({ tokens: [] }, { issuer: idp.issuer, audience: AUDIENCE, jwks: remoteJwks(idp.jwksUrl), users });
    app = await buildApi({ db: t.db, auth, board: { login: { issuer: idp.issuer, clientId: CLIENT_ID } } });
    base = await listenOnLoopback(app);
    browser = await launchChromium((chromiumFound as { path: string }).path);
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    await idp?.close();
    await t?.close();
  });

  const open = async (url: string): Promise<Page> => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
    return page;
  };
  const ssoButton = (page: Page) => page.getByRole('button', { name: `Log in with single sign-on (${new URL(idp.issuer).host})` });

  it('tells the page the issuer and public client id, and lets it reach only that origin besides its own', async () => {
    const login = (await (await fetch(`${base}/board/login`)).json()) as { oidc: { issuer: string; clientId: string } };
    assert.deepEqual(login, { oidc: { issuer: idp.issuer, clientId: CLIENT_ID } });
    const csp = (await fetch(`${base}/`)).headers.get('content-security-policy');
    assert.equal(csp, boardCsp({ issuer: idp.issuer }));
    assert.match(csp ?? '', new RegExp(`connect-src 'self' ${idp.issuer.replace(/[.]/g, '\\.')};`));
    assert.equal(boardCsp(), BOARD_CSP, 'without a login client the policy is unchanged');
  });

  it('logs in through the issuer with the code flow and a PKCE S256 challenge, comes back to the page it left, and acts as the mapped user', async () => {
    const page = await open(`${base}/#/audit`);
    await ssoButton(page).click();
    await page.getByTestId('whoami').filter({ hasText: 'alice' }).waitFor();
    assert.ok(page.url().endsWith('#/audit'), page.url());
    assert.ok(!page.url().includes('code='), 'the code leaves the address');
    await page.getByTestId('audit-verify').waitFor();

    assert.equal(idp.authorizeRequests.length, 1);
    const asked = idp.authorizeRequests[0]!;
    assert.equal(asked.get('code_challenge_method'), 'S256');
    assert.equal(asked.get('redirect_uri'), `${base}/`);
    assert.ok((asked.get('state') ?? '').length >= 43, 'a random state');
    const exchanged = idp.tokenRequests.at(-1)!;
    const verifier = exchanged.get('code_verifier') ?? '';
    assert.ok(verifier.length >= 43 && verifier.length <= 128, 'RFC 7636 verifier length');
    assert.equal(createHash('sha256').update(verifier).digest('base64url'), asked.get('code_challenge'), 'the challenge is S256 of the verifier sent later');
    assert.notEqual(verifier, asked.get('code_challenge'));
    assert.deepEqual(idp.tokenRefusals, []);
    const stored = (await page.evaluate('JSON.stringify([sessionStorage.getItem("slipway.token"), sessionStorage.getItem("slipway.oidc.pending")])')) as string;
    const [token, pending] = JSON.parse(stored) as [string | null, string | null];
    assert.equal(token?.split('.').length, 3, 'the JWT is kept for this tab');
    assert.equal(pending, null, 'the verifier and state are gone once used');
  });

  it('refuses a login answer whose state this tab never sent, and exchanges no code', async () => {
    const before = idp.tokenRequests.length;
    const page = await open(`${base}/?code=stolen-code&state=forged-state#/`);
    await page.getByTestId('sso-error').filter({ hasText: 'state does not match' }).waitFor();
    assert.equal(idp.tokenRequests.length, before, 'no token request');
    assert.equal(await page.getByTestId('whoami').count(), 0);
    assert.ok(!page.url().includes('code='));
  });

  it('shows the token endpoint\'s refusal when the verifier does not match the challenge, and keeps no token', async () => {
    const page = await open(`${base}/#/`);
    // Hold the browser at the issuer's door, change the verifier this tab keeps, then let the issuer answer.
    let authorize = '';
    await page.route(`${idp.issuer}/authorize?*`, async (route) => {
      authorize = route.request().url();
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'held' });
    });
    await ssoButton(page).click();
    await page.waitForURL((u) => u.toString().startsWith(`${idp.issuer}/authorize`));
    await page.unroute(`${idp.issuer}/authorize?*`);
    await page.goto(`${base}/#/`);
    await page.evaluate(`(() => { const p = JSON.parse(sessionStorage.getItem('slipway.oidc.pending')); p.verifier = 'x'.repeat(43); sessionStorage.setItem('slipway.oidc.pending', JSON.stringify(p)); })()`);
    await page.goto(authorize);
    await page.getByTestId('sso-error').filter({ hasText: 'the token endpoint refused the code: invalid_grant: PKCE verifier does not match the challenge' }).waitFor();
    assert.equal(await page.evaluate('sessionStorage.getItem("slipway.token")'), null);
  });

  it('reports no script errors or CSP violations in any page it opened', () => {
    assert.deepEqual(pageErrors, []);
  });
});

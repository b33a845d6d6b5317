/**
 * The release board in a real browser (Debian's chromium through
 * playwright-core) against the real stack: Temporal dev server, the registry
 * database, a real worker and the real API serving the page. Skipped, with
 * the reason, when no Chromium is found.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Authenticator } from '../../api/auth';
import { BOARD_CSP } from '../../api/board-routes';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { recheckLineSignal } from '../../workflows/release/api';
import { findChromium, launchChromium } from '../support/chromium';
import { registerModel, waitFor, waitForState } from '../support/releases';
import { openTestDb, startTestWorker, testEnv, TEST_SIGNER, type TestDb, type TestTemporal } from '../support/stack';

const TOKENS = {
  rita: 'rita-releaser-token-0123456789',
  bob: 'bob-approver-token-0123456789',
  ada: 'ada-admin-token-0123456789abc',
  eve: 'eve-short-lived-token-012345',
};

const HOSTILE = '<img src=x onerror="window.__xss=1">';
const GATED = `
name: board-gated
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [bob, rita], timeout: 1h }
`;
const QUICK = `
name: board-quick
stages:
  - env: dev
`;

const TWO = `
name: board-two
stages:
  - env: dev
  - env: prod
`;

const HOT = `
name: board-hot
breakGlass: { approvers: [bob] }
stages:
  - env: dev
  - env: prod
`;
// Halts on a rejection instead of undoing dev, so a retry has a stage to keep.
const HALTING = `
name: board-retry
onFailure: halt
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [bob], timeout: 1h }
`;

const chromiumFound = findChromium();
const skip = 'missing' in chromiumFound ? `SKIPPED: ${chromiumFound.missing}` : false;
// Screenshots for the README are rewritten only on request, so test runs leave the tree clean.
const SHOT_DIR = process.env.SLIPWAY_UPDATE_SCREENSHOTS === '1' ? path.join(REPO_ROOT, 'docs', 'images') : fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-board-shots-'));

describe('release board in Chromium against the real stack', () => {
  if (skip) {
    // One skipped test, so the run's summary counts it and prints the reason.
    it('drives the release board in Chromium', { skip }, () => undefined);
    return;
  }
  let t: TestDb;
  let temporal: TestTemporal;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let clockOffsetMs = 0;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  const api = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  const bindModel = async (pipelineName: string, source: string, versions: Record<string, Record<string, number>>) => {
    const model = await registerModel(service.registry, versions);
    assert.ok((await api('PUT', '/pipelines', TOKENS.ada, { source, file: `${pipelineName}.yaml` })).status < 300);
    assert.equal((await api('PUT', `/models/${model}/binding`, TOKENS.ada, { pipeline: pipelineName })).status, 200);
    return model;
  };

  const openAs = async (token: string | null, hash = '/', width = 1280): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (m) => {
      // Refused calls (401, 403) are part of the tests; a script error or CSP violation is not.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/#${hash}`);
    if (token) {
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('whoami').waitFor();
    }
    return page;
  };

  let service: ReleaseService;
  let startApi: (port: number) => Promise<number>;
  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, signer: TEST_SIGNER, bootstrapFromFolder: false });
    const auth = new Authenticator(
      {
        tokens: [
          { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: ['*'] },
          { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: ['prod'] },
          { user: 'ada', token: TOKENS.ada, roles: ['admin'], approves: [], rollsBack: ['*'] },
          { user: 'eve', token: TOKENS.eve, roles: ['viewer'], approves: [], expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
        ],
      },
      undefined,
      () => new Date(Date.now() + clockOffsetMs),
    );
    startApi = async (port: number) => {
      app = await buildApi({ db: t.db, releases: service, temporal: temporal.client, auth, signer: TEST_SIGNER, mutationsPerMinute: 100_000, board: { temporalUiUrl: testEnv().uiUrl, namespace: 'default' } });
      await app.listen({ host: '127.0.0.1', port });
      const address = app.server.address();
      return typeof address === 'object' && address ? address.port : 0;
    };
    base = `http://127.0.0.1:${await startApi(0)}`;
    browser = await launchChromium((chromiumFound as { path: string }).path);
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    await temporal?.close();
    await t?.close();
  });

  it('serves the page under a strict CSP with no inline script, and adds no CORS header', async () => {
    const res = await fetch(`${base}/`, { headers: { origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), BOARD_CSP);
    assert.doesNotMatch(BOARD_CSP, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.equal((await fetch(`${base}/board`)).status, 401, 'the data needs a token');
  });

  it('asks for a token, refuses a wrong one with the API\'s reason, and shows the board for a right one', async () => {
    const page = await openAs(null);
    await page.getByLabel('API token').fill('not-a-token-at-all-0000');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid token' }).waitFor();
    await page.getByLabel('API token').fill(TOKENS.bob);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('board').waitFor();
    assert.equal(await page.getByTestId('whoami').textContent(), 'bob');
  });

  let gatedModel = '';
  let releaseId = '';
  it('follows a release stage by stage on the board without a reload', async () => {
    const page = await openAs(TOKENS.bob);
    gatedModel = await bindModel('board-gated', GATED, { '1.0.0': { accuracy: 0.9 } });
    const started = await api('POST', '/releases', TOKENS.rita, { model: gatedModel, version: '1.0.0' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    releaseId = started.body.releaseId as string;
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    // dev goes live first, then prod waits for an approval: both seen on the same page.
    await page.locator(`[data-cell="${gatedModel}/dev"] [data-testid=live-version]`, { hasText: '1.0.0' }).waitFor({ timeout: 30_000 });
    await page.locator(`[data-cell="${gatedModel}/prod"] [data-testid=cell-release]`, { hasText: 'awaiting approval 0/1' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(navigations, [], 'the board updated in place');
    await page.getByLabel('Model').fill(gatedModel.slice(0, 8));
    assert.equal(await page.locator('tr[data-model]').count(), 1, 'the model filter keeps only the matching row');
    await page.getByLabel('Model').fill('');
    // A few more models live here and there, so the screenshot shows a board rather than one row.
    for (const [i, envs] of [['dev', 'prod'], ['dev'], ['dev', 'prod']].entries()) {
      const other = await registerModel(service.registry, { '2.0.0': { accuracy: 0.9 }, '2.1.0': { accuracy: 0.92 } });
      for (const env of envs) await service.registry.moveLivePointer({ model: other, env, version: i === 1 ? '2.0.0' : '2.1.0', opKey: `shot:${other}:${env}`, by: 'ci', reason: 'screenshot' });
    }
    await page.locator('tr[data-model]').nth(3).waitFor();
    await page.getByRole('heading', { name: 'Release board' }).click();
    await page.screenshot({ path: path.join(SHOT_DIR, 'board.png') });
  });

  it('refuses the requester approving her own release, and shows the reason on the release page', async () => {
    const page = await openAs(TOKENS.rita, `/releases/${releaseId}`);
    await page.getByTestId('decide-prod').waitFor();
    // By keyboard: Enter in the comment field approves.
    await page.getByLabel('Comment for prod').fill('mine, but urgent');
    await page.getByLabel('Comment for prod').press('Enter');
    await page.getByTestId('decision-result').filter({ hasText: 'rita requested this release and may not approve it' }).waitFor();
    await page.goto(`${base}/#/inbox`);
    await page.getByTestId('inbox-empty').waitFor();
  });

  it('lets an approver approve from the inbox, and the release page shows it verified and succeeded', async () => {
    const page = await openAs(TOKENS.bob, '/inbox');
    const item = page.locator(`[data-testid=inbox-item][data-release="${releaseId}"]`);
    await item.waitFor();
    await page.screenshot({ path: path.join(SHOT_DIR, 'inbox.png') });
    await item.getByLabel('Comment for prod').fill(`metrics look right ${HOSTILE}`);
    await item.getByRole('button', { name: 'Approve prod' }).click();
    await waitForState(service, releaseId, (s) => s.status === 'succeeded');
    await page.goto(`${base}/#/releases/${releaseId}`);
    await page.getByTestId('release-status').filter({ hasText: 'succeeded' }).waitFor();
    const prod = page.locator('[data-stage=prod]');
    await prod.getByText(/bob · .* · via api · verified/).waitFor();
    // The comment comes back from the API as text, never as markup.
    await prod.getByText(`“metrics look right ${HOSTILE}”`, { exact: false }).waitFor();
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(await page.locator('[data-stage=prod] img').count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Open in the Temporal Web UI' }).getAttribute('href'), `${testEnv().uiUrl}/namespaces/default/workflows/${encodeURIComponent(releaseId)}`);
    await page.screenshot({ path: path.join(SHOT_DIR, 'release.png'), fullPage: true });
  });

  it('shows a rollback made from the model page in its timeline', async () => {
    const model = await bindModel('board-quick', QUICK, { '1.0.0': { accuracy: 0.9 }, '1.1.0': { accuracy: 0.91 } });
    for (const version of ['1.0.0', '1.1.0']) {
      const started = await api('POST', '/releases', TOKENS.rita, { model, version });
      await waitForState(service, started.body.releaseId as string, (s) => s.status === 'succeeded');
    }
    const page = await openAs(TOKENS.ada, `/models/${model}`);
    const form = page.getByTestId('rollback-dev');
    await form.waitFor();
    await form.getByLabel('Roll dev back to').selectOption('1.0.0');
    await form.getByLabel('Reason').fill('1.1.0 answers slowly');
    await form.getByRole('button', { name: 'Roll back dev' }).click();
    const newest = page.getByTestId('history-dev').locator('li').first();
    await newest.filter({ hasText: '1.0.0' }).filter({ hasText: '(live)' }).waitFor({ timeout: 30_000 });
    assert.match((await newest.textContent()) ?? '', /by ada/);
    await page.getByRole('heading', { name: 'dev · live 1.0.0' }).waitFor();
    // Three moves of dev in the period: the DORA chart says so in its accessible label.
    await page.getByRole('img', { name: /Deployments per day per environment: dev \d/ }).waitFor();
  });

  it('shows the audit chain verified and downloads a release\'s signed evidence bundle', async () => {
    const page = await openAs(TOKENS.ada, '/audit');
    await page.getByTestId('audit-verify').filter({ hasText: 'The audit chain verifies' }).waitFor();
    await page.getByLabel('Release id').fill(releaseId);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download evidence bundle' }).click()]);
    assert.equal(download.suggestedFilename(), `${releaseId}.evidence.json`);
    const bundle = JSON.parse(fs.readFileSync(await download.path(), 'utf8')) as { body?: { releaseId?: string }; signature?: string };
    assert.ok(bundle.signature, 'the bundle is signed');
    assert.match(JSON.stringify(bundle.body), new RegExp(releaseId));
  });

  it('shows a stop on the board without a reload, the hotfix it holds and why, the hold in the release timeline, and clears them on resume', async () => {
    const page = await openAs(TOKENS.bob);
    await page.getByTestId('board').waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const model = await bindModel('board-two', TWO, { '1.0.0': { accuracy: 0.9 } });
    const banner = page.locator('[data-testid=stop-banner][data-scope=prod]');
    let resumed = false;
    assert.equal((await api('POST', '/stops', TOKENS.ada, { env: 'prod', reason: `incident 42: latency ${HOSTILE}` })).status, 201);
    try {
      await banner.waitFor();
      assert.match((await banner.textContent()) ?? '', /^Line stopped for prod by ada since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: incident 42: latency <img src=x onerror=/);
      const started = await api('POST', '/releases', TOKENS.rita, { model, version: '1.0.0', hotfix: true });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const id = started.body.releaseId as string;
      const cell = page.locator(`[data-cell="${model}/prod"]`);
      await page.locator(`[data-cell="${model}/prod"][data-stopped=prod] [data-testid=cell-stopped]`).waitFor();
      await cell.getByTestId('cell-release').filter({ hasText: '1.0.0 · line stopped' }).waitFor({ timeout: 30_000 });
      await cell.getByTestId('hotfix').waitFor();
      await cell.getByTestId('cell-held').filter({ hasText: 'held: incident 42: latency' }).waitFor();
      const inFlight = page.locator(`[data-testid=in-flight][data-release="${id}"]`);
      await inFlight.getByTestId('held-reason').filter({ hasText: 'held by a stopped line at prod: incident 42: latency' }).waitFor();
      assert.equal(await page.locator(`[data-cell="${model}/dev"][data-stopped]`).count(), 0, 'dev is not stopped');
      assert.equal(await page.locator('[data-testid=stop-banner] img').count(), 0, 'the reason is text');
      assert.equal(await page.evaluate('window.__xss'), undefined);
      await page.screenshot({ path: path.join(SHOT_DIR, 'board-stopped.png') });

      const release = await openAs(TOKENS.bob, `/releases/${id}`);
      await release.locator('[data-stage=prod][data-status=line_stopped] [data-testid=line-held]').filter({ hasText: 'Held by a stopped line: Line stopped for prod by ada' }).waitFor();
      await release.getByTestId('release-status').getByTestId('hotfix').waitFor();

      assert.equal((await api('POST', '/stops/prod/resume', TOKENS.ada, { reason: 'latency back to normal' })).status, 200);
      resumed = true;
      await banner.waitFor({ state: 'detached' });
      await page.locator(`[data-cell="${model}/prod"][data-stopped]`).waitFor({ state: 'detached' });
      await page.locator(`[data-cell="${model}/prod"] [data-testid=live-version]`, { hasText: '1.0.0' }).waitFor({ timeout: 30_000 });
      await release.getByTestId('release-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
      assert.equal(await release.getByTestId('line-held').count(), 0, 'no hold once it carried on');
      assert.deepEqual(navigations, [], 'the board updated in place');
    } finally {
      if (!resumed) await api('POST', '/stops/prod/resume', TOKENS.ada, {});
    }
  });

  it('lists a hotfix\'s break-glass approval under its stage, and says it let the release pass the stop', async () => {
    const model = await bindModel('board-hot', HOT, { '1.0.0': { accuracy: 0.9 } });
    assert.equal((await api('POST', '/stops', TOKENS.ada, { env: 'prod', reason: 'incident 43' })).status, 201);
    try {
      const started = await api('POST', '/releases', TOKENS.rita, { model, version: '1.0.0', hotfix: true });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const id = started.body.releaseId as string;
      await waitForState(service, id, (s) => s.status === 'line_stopped' && s.waitingFor?.env === 'prod');
      const page = await openAs(TOKENS.bob, `/releases/${id}`);
      await page.locator('[data-stage=prod] [data-testid=line-held]').waitFor();
      const approved = await api('POST', `/releases/${id}/approvals`, TOKENS.bob, { stage: 'prod', breakGlass: true, comment: 'customer outage, ship the fix' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const glass = page.locator('[data-stage=prod] [data-testid=break-glass]');
      await glass.getByText(/^bob · .* UTC · “customer outage, ship the fix” · not used yet$/).waitFor();
      // The approval does not wake a held release; it asks again on its recheck timer (30 s) or this Signal, which anyone may send.
      await temporal.client.workflow.getHandle(id).signal(recheckLineSignal);
      await glass.getByText(/^bob · .* UTC · “customer outage, ship the fix” · let the hotfix pass the stop on prod \(by ada since .*: incident 43\) at .* UTC$/).waitFor({ timeout: 30_000 });
      await page.getByTestId('release-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    } finally {
      await api('POST', '/stops/prod/resume', TOKENS.ada, {});
    }
  });

  it('retries a rejected release from its page: a quarantine refusal shows the reason, then the new run keeps dev and names the run it retries', async () => {
    const model = await bindModel('board-retry', HALTING, { '1.0.0': { accuracy: 0.9 } });
    const started = await api('POST', '/releases', TOKENS.rita, { model, version: '1.0.0' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.releaseId as string;
    const firstRunId = started.body.runId as string;
    await waitForState(service, id, (s) => s.stages.find((x) => x.env === 'prod')?.status === 'awaiting_approval');
    assert.equal((await api('POST', `/releases/${id}/approvals`, TOKENS.bob, { stage: 'prod', decision: 'reject', comment: 'not before the load test' })).status, 200);
    await waitForState(service, id, (s) => s.status === 'rejected');
    await waitFor(async () => ((await service.releases.get(id))?.status === 'rejected' ? true : undefined));

    const viewer = await openAs(TOKENS.bob, `/releases/${id}`);
    await viewer.getByTestId('release-status').filter({ hasText: 'rejected' }).waitFor();
    assert.equal(await viewer.getByTestId('retry').count(), 0, 'no Retry for a caller who may not start releases');

    assert.equal((await api('POST', `/models/${model}/versions/1.0.0/quarantine`, TOKENS.ada, { reason: 'leaks PII in outputs' })).status, 201);
    const board = await openAs(TOKENS.bob);
    await board.locator(`[data-cell="${model}/dev"] .live [data-testid=quarantined]`).waitFor();
    const modelPage = await openAs(TOKENS.bob, `/models/${model}`);
    await modelPage.locator('tr[data-version="1.0.0"]').getByText('quarantined by ada since').filter({ hasText: 'leaks PII in outputs' }).waitFor();

    const page = await openAs(TOKENS.rita, `/releases/${id}`);
    const retry = page.getByRole('button', { name: 'Retry from the failed stage' });
    await retry.click();
    await page.getByTestId('retry-result').filter({ hasText: /^Refused: .*quarantined/ }).waitFor();
    assert.equal((await api('POST', `/models/${model}/versions/1.0.0/unquarantine`, TOKENS.ada, { reason: 'false alarm' })).status, 200);
    await retry.click();
    await page.getByTestId('retry-result').filter({ hasText: 'Retry started' }).waitFor();
    await page.locator('[data-stage=prod][data-status=awaiting_approval]').waitFor({ timeout: 30_000 });
    const kept = page.locator('[data-stage=dev] [data-testid=carried-over]');
    await kept.waitFor();
    assert.match((await kept.textContent()) ?? '', new RegExp(`^Kept from run ${firstRunId}, because \\S`));
    assert.equal(await page.locator('[data-stage=prod] [data-testid=carried-over]').count(), 0, 'prod runs again');
    const retryOf = page.getByTestId('retry-of');
    assert.match((await retryOf.textContent()) ?? '', new RegExp(`^run ${firstRunId} \\(started .* UTC, ended rejected at prod\\) · `));
    assert.equal(await retryOf.getByRole('link').getAttribute('href'), `${testEnv().uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}/${encodeURIComponent(firstRunId)}`);
    assert.equal(await retry.count(), 0, 'no Retry while the new run is in flight');
    await page.screenshot({ path: path.join(SHOT_DIR, 'release-retried.png'), fullPage: true });
  });

  it('asks an expired session to log in again and keeps the page it was on', async () => {
    const page = await openAs(TOKENS.eve, `/releases/${releaseId}`);
    await page.getByTestId('release-status').waitFor();
    clockOffsetMs = 2 * 3_600_000;
    try {
      await page.getByRole('heading', { name: 'Your session ended: log in again' }).waitFor();
      await page.getByLabel('API token').fill(TOKENS.bob);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('whoami').filter({ hasText: 'bob' }).waitFor();
      assert.ok(page.url().endsWith(`#/releases/${releaseId}`), page.url());
      await page.getByTestId('release-status').filter({ hasText: 'succeeded' }).waitFor();
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('stays readable at 390 px: nothing wider than the screen but the board\'s own scroller', async () => {
    const page = await openAs(TOKENS.bob, '/', 390);
    await page.getByTestId('board').waitFor();
    assert.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'), 'no page-wide horizontal scroll');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.textContent'), 'Skip to content', 'the first Tab reaches the skip link');
  });

  it('shows a banner while the API is down, keeps the last answer, and recovers by itself', async () => {
    const page = await openAs(TOKENS.bob, `/releases/${releaseId}`);
    await page.getByTestId('release-status').filter({ hasText: 'succeeded' }).waitFor();
    const port = Number(new URL(base).port);
    await app.close();
    await page.getByTestId('api-down').waitFor();
    assert.equal(await page.getByTestId('release-status').count(), 1, 'the last good answer stays on screen');
    await startApi(port);
    await page.getByTestId('api-down').waitFor({ state: 'detached' });
  });

  it('reports no script errors or CSP violations in any page it opened', () => {
    assert.deepEqual(pageErrors, []);
  });
});

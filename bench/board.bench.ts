/**
 * board benchmark: the release board in Debian's chromium against the real
 * API and registry database. A board of 50 models × 4 environments with 20
 * releases in flight, against a baseline board of 1 model × 4 environments
 * measured the same way in the same run:
 *   - time to first full render: navigation start to every row on screen;
 *   - live-update latency: a live pointer moved in the registry to the new
 *     version shown in its cell, without a reload (the page polls GET /board
 *     every second, so about half a poll interval is expected on top of the
 *     route's own time);
 *   - GET /board answered to the API's caller (no browser), for scale.
 */
import { MongoClient, type Db } from 'mongodb';
import type { Browser } from 'playwright-core';
import { Authenticator } from '../api/auth';
import { buildApi } from '../api/server';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import type { ReleaseState } from '../domain/release';
import { findChromium, launchChromium } from '../test/support/chromium';
import { type BenchContext, type BenchReport, type BenchRow, dbUri, log, ms, now, ratio, summarize } from './support';

const TOKEN = 'bench-board-viewer-token-0123456789';
const ENVS = ['dev', 'test', 'staging', 'prod'];

interface BoardRig {
  base: string;
  registry: Registry;
  models: string[];
  close(): Promise<void>;
}

async function seed(db: Db, modelCount: number, inFlight: number): Promise<{ registry: Registry; models: string[] }> {
  const registry = new Registry(db);
  const store = new ReleaseStore(db);
  await Promise.all([registry.ensureIndexes(), store.ensureIndexes()]);
  const models = Array.from({ length: modelCount }, (_, i) => `model-${String(i).padStart(2, '0')}`);
  for (const model of models) {
    for (const version of ['1.0.0', '1.1.0']) {
      await registry.registerVersion({ model, version, artifact: { uri: `s3://bench/${model}/${version}.onnx`, sha256: 'b'.repeat(64) }, metrics: { accuracy: 0.9 } }, 'bench');
    }
    for (const env of ENVS) await registry.moveLivePointer({ model, env, version: '1.0.0', opKey: `seed:${model}:${env}`, by: 'bench', reason: 'seed' });
  }
  const at = new Date().toISOString();
  for (let i = 0; i < inFlight; i++) {
    const model = models[i % models.length]!;
    const state: ReleaseState = {
      releaseId: `release-${model}-1.1.0-${i}`, model, version: '1.1.0', pipeline: 'bench', pipelineHash: 'f'.repeat(64), requestedBy: 'ci',
      status: i % 2 === 0 ? 'awaiting_approval' : 'baking', currentStage: 'staging', summary: 'bench release in flight',
      stages: ENVS.map((env, k) => ({
        env, status: k < 2 ? 'succeeded' : k === 2 ? (i % 2 === 0 ? 'awaiting_approval' : 'baking') : 'pending', gates: [],
        quorum: k === 2 && i % 2 === 0 ? { required: 2, approvedBy: [], refused: [], met: false } : null, approvalDeadline: null, rejectedBy: null,
        canaryWeight: null, deployedVersion: null, previousVersion: null, healthChecks: [], startedAt: at, endedAt: null, error: null,
      })),
      ignoredMessages: [], compensations: [], startedAt: at, updatedAt: at, endedAt: null, outcome: null,
    };
    await store.record(state, 1);
  }
  return { registry, models };
}

async function startBoard(ctx: BenchContext, client: MongoClient, database: string, modelCount: number, inFlight: number): Promise<BoardRig> {
  const db = client.db(database);
  await db.dropDatabase();
  const { registry, models } = await seed(db, modelCount, inFlight);
  const auth = new Authenticator({ tokens: [{ user: 'bench', token: TOKEN, roles: ['viewer'], approves: [] }] });
  const app = await buildApi({ db, auth });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { base, registry, models, close: async () => { await app.close(); await db.dropDatabase().catch(() => undefined); } };
}

async function measure(browser: Browser, rig: BoardRig, loads: number, updates: number): Promise<{ render: number[]; update: number[]; route: number[] }> {
  // bypassCSP only lets the bench's own probes (waitForFunction strings) run; the page loads the same files either way.
  const render: number[] = [];
  const update: number[] = [];
  const route: number[] = [];
  const rows = rig.models.length;
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    // The token as a logged-in tab holds it (sessionStorage), set before the page's own script runs.
    await context.addInitScript(`sessionStorage.setItem('slipway.token', ${JSON.stringify(TOKEN)})`);
    const page = await context.newPage();
    const t = now();
    await page.goto(`${rig.base}/#/`);
    await page.waitForFunction(`document.querySelectorAll('tr[data-model]').length === ${rows}`, undefined, { polling: 5, timeout: 30_000 });
    render.push(now() - t);
    await context.close();
  }
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  await context.addInitScript(`sessionStorage.setItem('slipway.token', ${JSON.stringify(TOKEN)})`);
  const page = await context.newPage();
  await page.goto(`${rig.base}/#/`);
  await page.waitForFunction(`document.querySelectorAll('tr[data-model]').length === ${rows}`, undefined, { polling: 20, timeout: 30_000 });
  const current = new Map<string, string>();
  for (let i = 0; i < updates; i++) {
    const model = rig.models[i % rig.models.length]!;
    const env = ENVS[i % ENVS.length]!;
    const key = `${model}/${env}`;
    const next = (current.get(key) ?? '1.0.0') === '1.0.0' ? '1.1.0' : '1.0.0';
    current.set(key, next);
    // Start at a random point of the page's poll cycle, as a real change would.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
    const t = now();
    await rig.registry.moveLivePointer({ model, env, version: next, opKey: `bench:${key}:${i}`, by: 'bench', reason: 'bench move' });
    await page.waitForFunction(
      `(() => { const el = document.querySelector('[data-cell="${key}"] [data-testid=live-version]'); return el && el.textContent === '${next}'; })()`,
      undefined,
      { polling: 5, timeout: 30_000 },
    );
    update.push(now() - t);
  }
  await context.close();
  for (let i = 0; i < Math.max(10, updates); i++) {
    const t = now();
    const res = await fetch(`${rig.base}/board`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await res.arrayBuffer();
    route.push(now() - t);
  }
  return { render, update, route };
}

/** boardBench measures the board's first render and live-update latency at 50 × 4 against 1 × 4. */
export async function boardBench(ctx: BenchContext): Promise<BenchReport> {
  const found = findChromium();
  if ('missing' in found) {
    return { name: 'board', rows: [{ bench: 'board', measure: 'release board in chromium', slipway: `skipped: ${found.missing}`, baseline: '', ratio: '', aim: '' }], notes: [] };
  }
  const loads = ctx.quick ? 3 : 10;
  const updates = ctx.quick ? 8 : 30;
  const client = await new MongoClient(dbUri(ctx.mongodbUri, 'slipway_bench_board')).connect();
  const browser = await launchChromium(found.path);
  try {
    log('board: seeding 50 models × 4 environments, 20 releases in flight');
    const big = await startBoard(ctx, client, 'slipway_bench_board', 50, 20);
    log('board: seeding the baseline, 1 model × 4 environments');
    const small = await startBoard(ctx, client, 'slipway_bench_board_base', 1, 0);
    try {
      // Warm-up (esbuild bundle, JIT, browser cache of the script), not counted.
      await measure(browser, small, 1, 1);
      const b = await measure(browser, big, loads, updates);
      const s = await measure(browser, small, loads, updates);
      const rows: BenchRow[] = [];
      const add = (what: string, x: number[], y: number[]) => {
        for (const p of ['p50', 'p99'] as const) {
          const bx = summarize(x)[p];
          const sy = summarize(y)[p];
          rows.push({ bench: 'board', measure: `${what}, ${p} (${x.length})`, slipway: ms(bx), baseline: ms(sy), ratio: ratio(bx, sy), aim: 'same board at 1 model × 4 envs' });
        }
      };
      add('first full render, 50 models × 4 envs, 20 in flight', b.render, s.render);
      add('registry change → shown on the board (1 s poll)', b.update, s.update);
      add('GET /board answered (no browser)', b.route, s.route);
      return {
        name: 'board',
        rows,
        notes: [
          'The board polls GET /board every second; a change waits on average half an interval for the next poll, plus the route and the render.',
          `Chromium: ${found.path}. Render is measured from navigation start to every model row on screen, with the token already in sessionStorage.`,
        ],
      };
    } finally {
      await big.close();
      await small.close();
    }
  } finally {
    await browser.close();
    await client.close();
  }
}

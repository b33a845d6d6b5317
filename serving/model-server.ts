/**
 * The local model server: one process per (model, environment), started by
 * serving/supervisor.ts, listening on 127.0.0.1 only.
 *
 *   node -r tsx/cjs serving/model-server.ts --model fraud --env prod --port 40123 --state-file run/fraud-prod.json
 *
 * It serves `POST /predict` from a stable version and, during a canary, a
 * second version that gets `weight` percent of requests. A model is loaded
 * only from bytes whose sha256 matches the registered digest. `/metrics`
 * gives Prometheus counters, latency and prediction histograms by version.
 * Admin calls (deploy, weight, promote, undo; bearer token from
 * SLIPWAY_MODEL_SERVER_TOKEN) are idempotent: a repeated deploy or undo with
 * the same opKey answers what it answered before and changes nothing. The
 * serving state is written to the state file, so a restarted server serves
 * what it served before.
 *
 * A model that scores a row as NaN or infinity makes the request fail with
 * 500: a made-up probability would be worse than an error the caller sees.
 * Over 350 lines: one server process (admin, predict, metrics, state file) read as a whole.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { bearerTokenMatches } from '../lib/constant-time';
import { ArtifactDigestMismatchError, OnnxModel, readManifest } from './model-runtime';

/** ArtifactRef names a version and where its verified bytes are. */
export interface ArtifactRef {
  version: string;
  path: string;
  sha256: string;
}

/** SlotView is what one serving slot holds, as the admin API shows it. */
export interface SlotView {
  version: string;
  sha256: string;
  loadedAt: string;
}

/** ServerStateView is the serving state: stable, canary and the canary's share of requests. */
export interface ServerStateView {
  model: string;
  env: string;
  stable: SlotView | null;
  canary: SlotView | null;
  /** Percent of /predict requests the canary gets (0 when there is none). */
  weight: number;
}

/** DeployResult answers /admin/deploy. */
export interface DeployResult {
  previousVersion: string | null;
  servedAs: 'stable' | 'canary';
  state: ServerStateView;
  repeated: boolean;
}

/** UndoResult answers /admin/undo. */
export interface UndoResult {
  restoredTo: string | null;
  skipped?: string;
  state: ServerStateView;
  repeated: boolean;
}

/** PredictResult answers /predict. */
export interface PredictResult {
  version: string;
  slot: 'stable' | 'canary';
  probabilities: number[];
}

interface Served extends ArtifactRef {
  onnx: OnnxModel;
  features: string[] | null;
  loadedAt: Date;
}

interface PersistedState {
  stable: ArtifactRef | null;
  canary: ArtifactRef | null;
  weight: number;
  // What was stable when each deploy opKey first arrived: undo puts it back.
  previous: Record<string, ArtifactRef | null>;
  // Answers already given, by operation id, so repeats answer the same.
  ops: Record<string, { previousVersion?: string | null; servedAs?: 'stable' | 'canary'; restoredTo?: string | null; skipped?: string }>;
}

/** ModelServerOptions say which model and environment a server is for, and where its state lives. */
export interface ModelServerOptions {
  model: string;
  env: string;
  stateFile: string;
  /** Bearer token admin calls must carry; none means admin is open (loopback only). */
  adminToken?: string;
  /** Canary routing draw, replaceable so tests of the server itself can be exact. */
  random?: () => number;
  log?: (line: string) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ROWS = 10_000;
const ERROR_REASONS = ['non_finite_output', 'inference_failed'] as const;

const artifactSchema = z.strictObject({
  path: z.string().min(1).max(4096),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be 64 lowercase hex characters'),
});
const opKeySchema = z.string().min(1).max(512);
const versionSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'must be a version name');
const deployBodySchema = z.strictObject({ opKey: opKeySchema, version: versionSchema, artifact: artifactSchema, weight: z.number().int().min(1).max(100).default(100) });
const weightBodySchema = z.strictObject({ weight: z.number().int().min(0).max(100) });
const undoBodySchema = z.strictObject({ opKey: opKeySchema, failedVersion: versionSchema });
const predictBodySchema = z.strictObject({
  rows: z.array(z.union([z.array(z.number()), z.record(z.string(), z.number())])).min(1).max(MAX_ROWS),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** ModelServer holds the loaded versions, routes predictions and answers admin calls. */
export class ModelServer {
  readonly registry = new Registry();
  private stable: Served | null = null;
  private canary: Served | null = null;
  private weight = 0;
  private previous: PersistedState['previous'] = {};
  private ops: PersistedState['ops'] = {};
  // Admin calls run one at a time so a deploy and an undo never interleave.
  private adminQueue: Promise<unknown> = Promise.resolve();
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly requests: Counter<'version'>;
  private readonly errors: Counter<'version' | 'reason'>;
  private readonly latency: Histogram<'version'>;
  private readonly predictions: Histogram<'version'>;
  private readonly loaded: Gauge<'version'>;
  private readonly serving: Gauge<'version' | 'slot'>;
  private readonly canaryWeight: Gauge;
  private readonly loadedModels = new Set<OnnxModel>();

  constructor(private readonly options: ModelServerOptions) {
    this.random = options.random ?? Math.random;
    this.log = options.log ?? ((line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
    const registers = [this.registry];
    this.requests = new Counter({ name: 'slipway_model_requests_total', help: 'Prediction requests routed to a version', labelNames: ['version'], registers });
    this.errors = new Counter({ name: 'slipway_model_errors_total', help: 'Prediction requests that failed, by version and reason', labelNames: ['version', 'reason'], registers });
    this.latency = new Histogram({
      name: 'slipway_model_request_duration_seconds',
      help: 'Time to answer a prediction request, by version',
      labelNames: ['version'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.predictions = new Histogram({
      name: 'slipway_model_prediction',
      help: 'Predicted probabilities, by version (drift shows here first)',
      labelNames: ['version'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers,
    });
    this.loaded = new Gauge({ name: 'slipway_model_loaded_timestamp_seconds', help: "When a version was loaded; its counters start there", labelNames: ['version'], registers });
    this.serving = new Gauge({ name: 'slipway_model_serving', help: '1 for each version in a serving slot', labelNames: ['version', 'slot'], registers });
    this.canaryWeight = new Gauge({ name: 'slipway_model_canary_weight_percent', help: 'Percent of requests sent to the canary', registers });
  }

  /** restore loads the state file, if any; a slot whose artifact fails verification is left empty and logged. */
  async restore(): Promise<void> {
    let saved: PersistedState;
    try {
      saved = JSON.parse(fs.readFileSync(this.options.stateFile, 'utf8')) as PersistedState;
    } catch {
      return;
    }
    this.previous = saved.previous ?? {};
    this.ops = saved.ops ?? {};
    for (const slot of ['stable', 'canary'] as const) {
      const ref = saved[slot];
      if (!ref) continue;
      try {
        this[slot] = await this.load(ref);
      } catch (err) {
        this.log(`restore: cannot load ${slot} ${ref.version} from ${ref.path}: ${(err as Error).message}`);
      }
    }
    if (!this.stable && this.canary) [this.stable, this.canary] = [this.canary, null];
    this.weight = this.canary ? saved.weight : 0;
    this.updateGauges();
    this.log(`restored: stable ${this.stable?.version ?? '-'}, canary ${this.canary?.version ?? '-'} at ${this.weight}%`);
  }

  /** view is the serving state as the admin API shows it. */
  view(): ServerStateView {
    const slot = (s: Served | null): SlotView | null => (s ? { version: s.version, sha256: s.sha256, loadedAt: s.loadedAt.toISOString() } : null);
    return { model: this.options.model, env: this.options.env, stable: slot(this.stable), canary: slot(this.canary), weight: this.weight };
  }

  /** deploy serves a version: as the canary at weight < 100 while something else is stable, else as stable. */
  deploy(body: z.infer<typeof deployBodySchema>): Promise<DeployResult> {
    return this.admin(async () => {
      const opId = `deploy ${body.opKey} ${body.weight}`;
      const done = this.ops[opId];
      if (done) return { previousVersion: done.previousVersion ?? null, servedAs: done.servedAs ?? 'stable', state: this.view(), repeated: true };
      const ref: ArtifactRef = { version: body.version, path: body.artifact.path, sha256: body.artifact.sha256 };
      const served = this.reuse(ref) ?? (await this.load(ref));
      if (!Object.hasOwn(this.previous, body.opKey)) this.previous[body.opKey] = this.stable ? this.refOf(this.stable) : null;
      const previousVersion = this.previous[body.opKey]?.version ?? null;
      let servedAs: 'stable' | 'canary';
      if (body.weight >= 100 || !this.stable || this.stable.version === body.version) {
        this.stable = served;
        this.canary = null;
        this.weight = 0;
        servedAs = 'stable';
      } else {
        this.canary = served;
        this.weight = body.weight;
        servedAs = 'canary';
      }
      this.ops[opId] = { previousVersion, servedAs };
      this.commit(`deploy ${body.version} as ${servedAs}${servedAs === 'canary' ? ` at ${body.weight}%` : ''} (opKey ${body.opKey})`);
      return { previousVersion, servedAs, state: this.view(), repeated: false };
    });
  }

  /** setWeight shifts the canary's share of requests; setting the same weight again changes nothing. */
  setWeight(weight: number): Promise<ServerStateView> {
    return this.admin(async () => {
      if (!this.canary) throw new HttpError(409, 'NoCanary', 'there is no canary to shift traffic to; deploy one first');
      if (this.weight !== weight) {
        this.weight = weight;
        this.commit(`canary ${this.canary.version} at ${weight}%`);
      }
      return this.view();
    });
  }

  /** promote makes the canary stable; with no canary it is a no-op. */
  promote(): Promise<ServerStateView> {
    return this.admin(async () => {
      if (this.canary) {
        this.stable = this.canary;
        this.canary = null;
        this.weight = 0;
        this.commit(`promoted ${this.stable.version} to stable`);
      }
      return this.view();
    });
  }

  /**
   * undo puts back what was stable before the deploy with this opKey: a
   * failed canary is dropped, a failed promoted version is replaced by its
   * predecessor. If the environment has moved on since, it leaves it alone.
   */
  undo(body: z.infer<typeof undoBodySchema>): Promise<UndoResult> {
    return this.admin(async () => {
      const opId = `undo ${body.opKey}`;
      const done = this.ops[opId];
      if (done) return { restoredTo: done.restoredTo ?? null, ...(done.skipped ? { skipped: done.skipped } : {}), state: this.view(), repeated: true };
      let restoredTo: string | null = null;
      let skipped: string | undefined;
      if (!Object.hasOwn(this.previous, body.opKey)) {
        skipped = `no deploy with opKey ${body.opKey} reached this server; nothing to undo`;
      } else if (this.canary?.version === body.failedVersion) {
        this.canary = null;
        this.weight = 0;
        restoredTo = this.stable?.version ?? null;
      } else if (this.stable?.version === body.failedVersion) {
        const before = this.previous[body.opKey] ?? null;
        this.stable = before ? (this.reuse(before) ?? (await this.load(before))) : null;
        this.canary = null;
        this.weight = 0;
        restoredTo = before?.version ?? null;
      } else {
        skipped = `${this.options.model}@${this.options.env} has moved on to ${this.stable?.version ?? 'nothing'} since; left as is`;
      }
      this.ops[opId] = { restoredTo, ...(skipped ? { skipped } : {}) };
      this.commit(skipped ? `undo ${body.opKey}: skipped (${skipped})` : `undo ${body.opKey}: ${body.failedVersion} out, ${restoredTo ?? 'nothing'} serving`);
      return { restoredTo, ...(skipped ? { skipped } : {}), state: this.view(), repeated: false };
    });
  }

  /** predict routes one request to the stable or canary version and scores its rows. */
  async predict(body: z.infer<typeof predictBodySchema>): Promise<PredictResult> {
    const chosen = this.pick();
    if (!chosen) throw new HttpError(503, 'NoModel', `no version of ${this.options.model} is deployed in ${this.options.env}`);
    const { served, slot } = chosen;
    const vectors = body.rows.map((row, i) => this.vector(served, row, i));
    const started = performance.now();
    this.requests.inc({ version: served.version });
    try {
      let scores: Float32Array;
      try {
        scores = await served.onnx.predict(vectors);
      } catch (err) {
        this.errors.inc({ version: served.version, reason: 'inference_failed' });
        throw new HttpError(500, 'InferenceFailed', `model ${served.version} failed: ${(err as Error).message}`);
      }
      const bad = scores.findIndex((s) => !Number.isFinite(s));
      if (bad !== -1) {
        this.errors.inc({ version: served.version, reason: 'non_finite_output' });
        throw new HttpError(500, 'NonFiniteOutput', `model ${served.version} produced a non-finite score (${scores[bad]}) for row ${bad}`);
      }
      for (const s of scores) this.predictions.observe({ version: served.version }, s);
      return { version: served.version, slot, probabilities: Array.from(scores) };
    } finally {
      this.latency.observe({ version: served.version }, (performance.now() - started) / 1000);
    }
  }

  /** handle is the HTTP request listener. */
  handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void this.dispatch(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'Internal', (err as Error).message ?? String(err));
      if (e.status >= 500 && !(err instanceof HttpError)) this.log(`error: ${(err as Error).stack ?? String(err)}`);
      send(res, e.status, { error: e.message, code: e.code });
    });
  };

  /** close releases every loaded session. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.loadedModels].map((m) => m.release()));
    this.loadedModels.clear();
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /healthz') return send(res, 200, { status: 'ok', ...this.view() });
    if (route === 'GET /metrics') {
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
      return;
    }
    if (route === 'POST /predict') {
      const body = parse(predictBodySchema, await readJson(req));
      const result = await this.predict(body);
      res.setHeader('x-slipway-version', result.version);
      return send(res, 200, result);
    }
    if (url.pathname.startsWith('/admin/')) {
      this.authorise(req);
      if (route === 'GET /admin/state') return send(res, 200, this.view());
      if (route === 'POST /admin/deploy') return send(res, 200, await this.deploy(parse(deployBodySchema, await readJson(req))));
      if (route === 'POST /admin/weight') return send(res, 200, await this.setWeight(parse(weightBodySchema, await readJson(req)).weight));
      if (route === 'POST /admin/promote') return send(res, 200, await this.promote());
      if (route === 'POST /admin/undo') return send(res, 200, await this.undo(parse(undoBodySchema, await readJson(req))));
    }
    throw new HttpError(404, 'NotFound', `no route ${route}`);
  }

  private authorise(req: http.IncomingMessage): void {
    const token = this.options.adminToken;
    if (token && !bearerTokenMatches(req.headers.authorization, token)) throw new HttpError(401, 'Unauthorised', 'admin calls need the bearer token the supervisor gave this server');
  }

  private pick(): { served: Served; slot: 'stable' | 'canary' } | null {
    if (this.canary && this.weight > 0 && this.random() * 100 < this.weight) return { served: this.canary, slot: 'canary' };
    if (this.stable) return { served: this.stable, slot: 'stable' };
    return null;
  }

  private vector(served: Served, row: number[] | Record<string, number>, i: number): number[] {
    if (Array.isArray(row)) {
      if (row.length !== served.onnx.width) throw new HttpError(400, 'InvalidInput', `rows[${i}] has ${row.length} values; ${served.version} takes ${served.onnx.width}`);
      return row;
    }
    if (!served.features) throw new HttpError(400, 'InvalidInput', `${served.version} has no manifest naming its features: send rows as arrays of ${served.onnx.width} numbers`);
    return served.features.map((f) => {
      const v = row[f];
      if (typeof v !== 'number') throw new HttpError(400, 'InvalidInput', `rows[${i}] has no number for feature "${f}"; features: ${served.features!.join(', ')}`);
      return v;
    });
  }

  private reuse(ref: ArtifactRef): Served | null {
    for (const s of [this.stable, this.canary]) if (s && s.version === ref.version && s.sha256 === ref.sha256) return s;
    return null;
  }

  private refOf(s: Served): ArtifactRef {
    return { version: s.version, path: s.path, sha256: s.sha256 };
  }

  private async load(ref: ArtifactRef): Promise<Served> {
    let onnx: OnnxModel;
    try {
      onnx = await OnnxModel.load(ref.path, ref.sha256);
    } catch (err) {
      if (err instanceof ArtifactDigestMismatchError) throw new HttpError(409, 'ArtifactDigestMismatch', err.message);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError(404, 'ArtifactNotFound', `artifact of ${ref.version} not found at ${ref.path}`);
      throw new HttpError(422, 'InvalidModel', `cannot load ${ref.version} from ${ref.path}: ${(err as Error).message}`);
    }
    const manifest = await readManifest(ref.path).catch(() => null);
    // A freshly loaded version's series start now, so "since it was loaded" is what they count.
    this.requests.remove({ version: ref.version });
    for (const reason of ERROR_REASONS) this.errors.remove({ version: ref.version, reason });
    this.latency.remove({ version: ref.version });
    this.predictions.remove({ version: ref.version });
    const loadedAt = new Date();
    this.loaded.set({ version: ref.version }, loadedAt.getTime() / 1000);
    this.loadedModels.add(onnx);
    this.log(`loaded ${ref.version} from ${ref.path} (sha256 ${ref.sha256.slice(0, 12)}…, ${onnx.width} inputs)`);
    return { ...ref, onnx, features: manifest?.features ?? null, loadedAt };
  }

  private admin<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.adminQueue.then(fn, fn);
    this.adminQueue = next.catch(() => undefined);
    return next;
  }

  // Persists the state, releases versions no slot holds any more, and logs what changed.
  private commit(what: string): void {
    const state: PersistedState = {
      stable: this.stable ? this.refOf(this.stable) : null,
      canary: this.canary ? this.refOf(this.canary) : null,
      weight: this.weight,
      previous: this.previous,
      ops: this.ops,
    };
    const tmp = `${this.options.stateFile}.tmp`;
    fs.mkdirSync(path.dirname(this.options.stateFile), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(state, null, 1));
    fs.renameSync(tmp, this.options.stateFile);
    this.updateGauges();
    this.log(what);
    this.releaseUnused();
  }

  private releaseUnused(): void {
    const inUse = new Set([this.stable?.onnx, this.canary?.onnx]);
    for (const m of [...this.loadedModels]) {
      if (inUse.has(m)) continue;
      this.loadedModels.delete(m);
      // Later, so a request already running on it finishes first.
      setTimeout(() => void m.release().catch(() => undefined), 5_000).unref();
    }
  }

  private updateGauges(): void {
    this.serving.reset();
    if (this.stable) this.serving.set({ version: this.stable.version, slot: 'stable' }, 1);
    if (this.canary) this.serving.set({ version: this.canary.version, slot: 'canary' }, 1);
    this.canaryWeight.set(this.weight);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'TooLarge', `request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'InvalidInput', 'request body is not valid JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'body';
  throw new HttpError(400, 'InvalidInput', `${where}: ${issue?.message ?? 'invalid'}`);
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const model = argValue(args, 'model');
  const env = argValue(args, 'env');
  const port = Number(argValue(args, 'port'));
  const stateFile = argValue(args, 'state-file');
  if (!model || !env || !stateFile || !Number.isInteger(port) || port <= 0) {
    throw new Error('usage: model-server --model <m> --env <e> --port <n> --state-file <file>');
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const server = new ModelServer({ model, env, stateFile, adminToken: process.env.SLIPWAY_MODEL_SERVER_TOKEN || undefined, log });
  await server.restore();
  const http_ = http.createServer({ keepAliveTimeout: 5_000 }, server.handle);
  await new Promise<void>((resolve, reject) => {
    http_.once('error', reject);
    http_.listen(port, '127.0.0.1', resolve);
  });
  log(`model server for ${model}@${env} listening on http://127.0.0.1:${port}`);
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    http_.close();
    http_.closeAllConnections();
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The supervisor may be SIGKILLed and unable to stop us: never outlive it.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(`parent ${parent} is gone`);
  }, 1000).unref();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`model-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

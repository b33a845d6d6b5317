/**
 * Starts and stops the local model servers: one process per (model,
 * environment), on a free loopback port, waited on until it answers, stopped
 * cleanly, and never left behind (the server also exits when its parent
 * dies). A server that crashed is started again on the next ensure(), and
 * comes back serving what it served, from its state file.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../devstack/processes';
import type { DeployResult, PredictResult, ServerStateView, UndoResult } from './model-server';

const SERVER_FILE = path.join(__dirname, 'model-server.ts');

/** ModelServerError is a non-2xx answer from a model server, with its status and error code. */
export class ModelServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelServerError';
  }
}

/** ModelServerClient calls one model server's HTTP API over kept-alive loopback connections. */
export class ModelServerClient {
  // node:http with keep-alive: several times the request rate of fetch() for small JSON calls.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  constructor(
    readonly url: string,
    private readonly adminToken?: string,
  ) {}

  /** deploy loads a version (verifying its sha256) as canary at weight < 100, else as stable. */
  deploy(req: { opKey: string; version: string; artifact: { path: string; sha256: string }; weight: number }): Promise<DeployResult> {
    return this.call('POST', '/admin/deploy', req);
  }

  /** setWeight shifts the canary's share of requests. */
  setWeight(weight: number): Promise<ServerStateView> {
    return this.call('POST', '/admin/weight', { weight });
  }

  /** promote makes the canary stable. */
  promote(): Promise<ServerStateView> {
    return this.call('POST', '/admin/promote', {});
  }

  /** undo reverts the deploy with this opKey, if the environment has not moved on. */
  undo(req: { opKey: string; failedVersion: string }): Promise<UndoResult> {
    return this.call('POST', '/admin/undo', req);
  }

  /** state reads what the server serves. */
  state(): Promise<ServerStateView> {
    return this.call('GET', '/admin/state');
  }

  /** predict scores rows (arrays in feature order, or objects by feature name). */
  predict(rows: (number[] | Record<string, number>)[]): Promise<PredictResult> {
    return this.call('POST', '/predict', { rows });
  }

  /** metricsText reads the Prometheus exposition. */
  async metricsText(): Promise<string> {
    const res = await this.request('GET', '/metrics');
    if (res.status !== 200) throw new ModelServerError(res.status, 'MetricsUnavailable', `GET ${this.url}/metrics answered ${res.status}`);
    return res.text;
  }

  /** close drops the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private async call<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
    const res = await this.request(method, route, body);
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      json = { error: res.text };
    }
    if (res.status >= 400) {
      const e = json as { error?: string; code?: string };
      throw new ModelServerError(res.status, e.code ?? 'Error', `${method} ${route} on ${this.url}: ${e.error ?? `status ${res.status}`}`);
    }
    return json as T;
  }

  private request(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.adminToken && route.startsWith('/admin/')) headers.authorization = `Bearer ${this.adminToken}`;
    return new Promise((resolve, reject) => {
      const req = http.request(`${this.url}${route}`, { method, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${route} on ${this.url}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}

/** ModelServerHandle is one running server: where it answers and its process. */
export interface ModelServerHandle {
  model: string;
  env: string;
  url: string;
  client: ModelServerClient;
  process: ManagedProcess;
}

/** LocalServingOptions say where servers keep pid, log and state files. */
export interface LocalServingOptions {
  runDir: string;
  /** How long a server may take to answer after start (tsx compiles on first start). */
  startTimeoutMs?: number;
}

/** LocalServingSupervisor owns the model server processes of this worker. */
export class LocalServingSupervisor {
  private readonly servers = new Map<string, Promise<ModelServerHandle>>();
  private readonly onExit = () => {
    for (const s of this.started) s.process.killSync();
  };
  private readonly started = new Set<ModelServerHandle>();

  constructor(private readonly options: LocalServingOptions) {
    process.on('exit', this.onExit);
  }

  /** ensure returns the (model, env) server, starting it if it is not running. */
  ensure(model: string, env: string): Promise<ModelServerHandle> {
    const key = serverKey(model, env);
    const existing = this.servers.get(key);
    if (existing) {
      return existing.then((h) => {
        if (!h.process.hasExited) return h;
        h.client.close();
        this.started.delete(h);
        if (this.servers.get(key) === existing) this.servers.delete(key);
        return this.ensure(model, env);
      });
    }
    const starting = this.start(model, env);
    this.servers.set(key, starting);
    starting.catch(() => {
      if (this.servers.get(key) === starting) this.servers.delete(key);
    });
    return starting;
  }

  /** find returns the (model, env) server if it is up, without starting one. */
  async find(model: string, env: string): Promise<ModelServerHandle | undefined> {
    const h = await this.servers.get(serverKey(model, env))?.catch(() => undefined);
    return h && !h.process.hasExited ? h : undefined;
  }

  /** stop stops the (model, env) server, if any. */
  async stop(model: string, env: string): Promise<void> {
    const key = serverKey(model, env);
    const h = await this.servers.get(key)?.catch(() => undefined);
    this.servers.delete(key);
    if (h) {
      h.client.close();
      await h.process.stop(5_000);
      this.started.delete(h);
    }
  }

  /** stopAll stops every server this supervisor started. */
  async stopAll(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    const handles = await Promise.all(all.map((p) => p.catch(() => undefined)));
    for (const h of handles) h?.client.close();
    await Promise.all(handles.map((h) => h?.process.stop(5_000)));
    this.started.clear();
    process.off('exit', this.onExit);
  }

  private async start(model: string, env: string): Promise<ModelServerHandle> {
    const name = `model-server-${serverKey(model, env)}`;
    const stateFile = path.join(this.options.runDir, `${name}.state.json`);
    // A port taken between freePort() and the server's bind makes it exit: try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const token = randomBytes(24).toString('hex');
      const proc = startProcess({
        name,
        command: process.execPath,
        args: ['--require', require.resolve('tsx/cjs'), SERVER_FILE, '--model', model, '--env', env, '--port', String(port), '--state-file', stateFile],
        runDir: this.options.runDir,
        env: { ...serverEnv(process.env), SLIPWAY_MODEL_SERVER_TOKEN: token },
      });
      const url = `http://127.0.0.1:${port}`;
      const client = new ModelServerClient(url, token);
      try {
        await waitUntil(proc, `model server for ${model}@${env}`, async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok, this.options.startTimeoutMs ?? 30_000);
      } catch (err) {
        client.close();
        await proc.stop(2_000);
        if (attempt < 3 && proc.hasExited && /EADDRINUSE/.test(proc.describeExit())) continue;
        throw err;
      }
      const handle: ModelServerHandle = { model, env, url, client, process: proc };
      this.started.add(handle);
      return handle;
    }
  }
}

// Model and env names are [A-Za-z0-9_-], so this is a safe file name.
function serverKey(model: string, env: string): string {
  return `${model}.${env}`;
}

// What a model server inherits: what Node and the OS need, never the worker's keys, passwords or pipeline secrets.
const SERVER_ENV_NAMES = new Set(['PATH', 'HOME', 'USER', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'TZ', 'LD_LIBRARY_PATH', 'SYSTEMROOT', 'SystemRoot', 'WINDIR', 'COMSPEC', 'PATHEXT']);

/** serverEnv is the part of the worker's environment a model server process gets: no SLIPWAY_*, TEMPORAL_* or other secrets. */
export function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => SERVER_ENV_NAMES.has(name) || name.startsWith('LC_') || name.startsWith('NODE_') || name.startsWith('TSX_')));
}

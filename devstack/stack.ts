/**
 * The local stack: a Temporal dev server (with Web UI) and a MongoDB-wire
 * registry database (mongod if installed, else FerretDB), found or built by
 * scripts/setup-tools.sh, each waited on until it answers.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ServiceExitedError, freePort, startProcess, waitUntil, type ManagedProcess } from './processes';

const execFileAsync = promisify(execFile);

/** REPO_ROOT is the checkout this code runs from. */
export const REPO_ROOT = path.resolve(__dirname, '..');
const TOOLS_DIR = path.join(REPO_ROOT, '.slipway', 'tools');

/** StackOptions chooses ports and where data lives; 0 means "any free port". */
export interface StackOptions {
  dataDir: string;
  temporalPort?: number;
  uiPort?: number;
  mongoPort?: number;
  /** Use this MongoDB instead of starting one (SLIPWAY_MONGODB_URI). */
  mongodbUri?: string;
  /** Database name in the URI of a database this stack starts. */
  database?: string;
  /** The Web UI decodes payloads through this codec endpoint (when payloads are encrypted). */
  uiCodecEndpoint?: string;
  /** Seconds to wait for each service; first start on 2 cores takes a while. */
  startTimeoutSec?: number;
}

/** RunningStack is what a started stack serves, and how to stop it. */
export interface RunningStack {
  temporalAddress: string;
  uiUrl: string;
  mongodbUri: string;
  registryBackend: 'mongod' | 'ferretdb' | 'external';
  processes: ManagedProcess[];
  stop(): Promise<void>;
  /**
   * restart stops one service, keeps it down for downMs, and starts it again
   * on the same port and data (fault tests: a server crash or outage).
   */
  restart(name: 'temporal' | 'ferretdb' | 'mongod', options?: { downMs?: number; signal?: NodeJS.Signals }): Promise<void>;
}

/** ensureTools runs the setup script, which is instant once the tools are cached. */
export async function ensureTools(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const { stderr } = await execFileAsync('bash', [path.join(REPO_ROOT, 'scripts', 'setup-tools.sh')], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    if (stderr.includes('building')) process.stderr.write(stderr);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`setting up Temporal and the registry database failed:\n${e.stderr ?? e.message}`, { cause: err });
  }
}

/** startStack starts Temporal and (unless mongodbUri is given) the registry DB, and waits for both. */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { SLIPWAY_MONGODB_URI: _given, ...env } = process.env;
  // Only a database this stack will not start may skip the database tools.
  await ensureTools(options.mongodbUri ? { ...env, SLIPWAY_MONGODB_URI: options.mongodbUri } : env);
  // A free port can be taken by another process between our probe and the
  // server's bind; with auto-chosen ports, try again on fresh ones.
  const autoPorts = !options.temporalPort && !options.uiPort && !options.mongoPort;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (err) {
      if (!autoPorts || attempt >= 3 || !(err instanceof ServiceExitedError)) throw err;
      process.stderr.write(`a service exited while starting (attempt ${attempt}); retrying on fresh ports: ${err.message.split('\n')[0]}\n`);
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<RunningStack> {
  const timeoutMs = (options.startTimeoutSec ?? 90) * 1000;
  const runDir = path.join(options.dataDir, 'run');
  fs.mkdirSync(runDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  try {
    const temporalPort = options.temporalPort || (await freePort());
    const uiPort = options.uiPort || (await freePort());
    const temporal = startProcess({
      name: 'temporal',
      command: path.join(TOOLS_DIR, 'temporal'),
      args: [
        ...temporalArgs(temporalPort, uiPort, path.join(options.dataDir, 'temporal.db'), await freePort(), await freePort()),
        ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
      ],
      runDir,
    });
    processes.push(temporal);

    let mongodbUri = options.mongodbUri;
    let registryBackend: RunningStack['registryBackend'] = 'external';
    let mongo: ManagedProcess | undefined;
    if (!mongodbUri) {
      const mongoPort = options.mongoPort || (await freePort());
      const database = options.database ?? 'slipway';
      mongodbUri = `mongodb://127.0.0.1:${mongoPort}/${database}`;
      mongo = startRegistryDb(mongoPort, options.dataDir, runDir);
      registryBackend = mongo.name === 'mongod' ? 'mongod' : 'ferretdb';
      processes.push(mongo);
    }

    const temporalAddress = `127.0.0.1:${temporalPort}`;
    const uiUrl = `http://127.0.0.1:${uiPort}`;
    await Promise.all([
      waitUntil(temporal, `Temporal dev server on ${temporalAddress}`, () => temporalAnswers(temporalAddress), timeoutMs),
      waitUntil(temporal, `Temporal Web UI on ${uiUrl}`, () => httpAnswers(uiUrl), timeoutMs),
      mongo
        ? waitUntil(mongo, `registry database on ${mongodbUri}`, () => mongoAnswers(mongodbUri!), timeoutMs)
        : mongoAnswers(mongodbUri),
    ]);
    const checks: Record<string, () => Promise<boolean>> = {
      temporal: () => temporalAnswers(temporalAddress),
      ferretdb: () => mongoAnswers(mongodbUri!),
      mongod: () => mongoAnswers(mongodbUri!),
    };
    const restart: RunningStack['restart'] = async (name, restartOptions = {}) => {
      const index = processes.findIndex((p) => p.name === name);
      const old = processes[index];
      if (!old) throw new Error(`no ${name} in this stack`);
      if (restartOptions.signal) old.child.kill(restartOptions.signal);
      await old.stop();
      await new Promise((resolve) => setTimeout(resolve, restartOptions.downMs ?? 0));
      const fresh = startProcess(old.spec, { appendLog: true });
      processes[index] = fresh;
      await waitUntil(fresh, `${name} after restart`, checks[name]!, timeoutMs);
    };
    return { temporalAddress, uiUrl, mongodbUri, registryBackend, processes, stop, restart };
  } catch (err) {
    await stop();
    throw err;
  }
}

function temporalArgs(port: number, uiPort: number, dbFile: string, httpPort: number, metricsPort: number): string[] {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort),
    '--db-filename', dbFile,
    '--log-level', 'warn',
    // What the SDK's own launcher passes: Updates are how CLI/API approve.
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  ];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  return args;
}

function startRegistryDb(port: number, dataDir: string, runDir: string): ManagedProcess {
  const mongod = path.join(TOOLS_DIR, 'mongod');
  if (fs.existsSync(mongod)) {
    const dbPath = path.join(dataDir, 'mongod');
    fs.mkdirSync(dbPath, { recursive: true });
    return startProcess({
      name: 'mongod',
      command: mongod,
      args: ['--dbpath', dbPath, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'],
      runDir,
    });
  }
  const ferretdb = path.join(TOOLS_DIR, 'slipway-ferretdb');
  if (!fs.existsSync(ferretdb)) {
    throw new Error('no registry database: run `npm run setup`, install mongod, or set SLIPWAY_MONGODB_URI');
  }
  return startProcess({
    name: 'ferretdb',
    command: ferretdb,
    args: ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-dir', path.join(dataDir, 'ferretdb')],
    runDir,
  });
}

async function temporalAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    const { status } = await connection.healthService.check({});
    // 1 = SERVING in grpc.health.v1
    return status === 1;
  } finally {
    await connection.close();
  }
}

/** httpAnswers tells whether an HTTP server answers at url with any status below 500. */
export async function httpAnswers(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.status < 500;
}

async function mongoAnswers(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2_000 });
  try {
    await client.connect();
    const reply = await client.db().command({ ping: 1 });
    return reply.ok === 1;
  } finally {
    await client.close();
  }
}

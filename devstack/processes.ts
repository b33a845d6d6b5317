/**
 * Child-process supervision for the local services (Temporal dev server,
 * registry database): start with a pid file, wait until they answer, stop
 * cleanly, and reap ones a killed parent left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** freePort asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the free port'));
      });
    });
  });
}

/** isPortFree tells whether 127.0.0.1:port can be bound right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** ServiceSpec describes one supervised child process. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  /** Folder for the pid file and the log file. */
  runDir: string;
  env?: NodeJS.ProcessEnv;
}

/** ManagedProcess is a started service: its pid, log file and a clean stop. */
export class ManagedProcess {
  private exited: Promise<void>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
    private readonly pidFile: string,
    /** How it was started, so it can be started again (fault tests restart services). */
    readonly spec: ServiceSpec,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        fs.rmSync(this.pidFile, { force: true });
        resolve();
      });
    });
  }

  /** hasExited tells whether the process is gone (e.g. it crashed at start). */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** describeExit gives the exit code/signal and the log's last lines, for error messages. */
  describeExit(): string {
    const tail = readHeadAndTail(this.logFile, 8, 12);
    const how = this.exitInfo ? `code ${this.exitInfo.code} signal ${this.exitInfo.signal}` : 'still running';
    return `${this.name} exited (${how}); last log lines from ${this.logFile}:\n${tail}`;
  }

  /** stop sends SIGTERM, waits up to graceMs, then SIGKILLs; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** stopSync is for process 'exit' handlers, where nothing async runs. */
  killSync(): void {
    if (!this.hasExited) this.child.kill('SIGKILL');
  }
}

/** startProcess spawns a service, after reaping any stale one recorded in the same pid file. */
export function startProcess(spec: ServiceSpec, options: { appendLog?: boolean } = {}): ManagedProcess {
  fs.mkdirSync(spec.runDir, { recursive: true });
  const pidFile = path.join(spec.runDir, `${spec.name}.pid`);
  const logFile = path.join(spec.runDir, `${spec.name}.log`);
  reapStale(pidFile, spec.command);
  const log = fs.openSync(logFile, options.appendLog ? 'a' : 'w');
  const child = spawn(spec.command, spec.args, {
    stdio: ['ignore', log, log],
    env: spec.env ?? process.env,
  });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${spec.name}: ${spec.command}`);
  fs.writeFileSync(pidFile, `${child.pid}\n${spec.command}\n`);
  return new ManagedProcess(spec.name, child, logFile, pidFile, spec);
}

/** ServiceExitedError is a service that died while we waited for it to answer. */
export class ServiceExitedError extends Error {}

/** waitUntil polls check until it resolves true, the process dies, or the deadline passes. */
export async function waitUntil(
  proc: ManagedProcess,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (proc.hasExited) throw new ServiceExitedError(`${what} did not start: ${proc.describeExit()}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`${what} did not answer within ${timeoutMs / 1000}s${reason}; see ${proc.logFile}`);
}

// A parent killed with SIGKILL cannot stop its children; the next start with
// the same run folder does, so services never pile up.
function reapStale(pidFile: string, command: string): void {
  let text: string;
  try {
    text = fs.readFileSync(pidFile, 'utf8');
  } catch {
    return;
  }
  const [pidText, recordedCommand] = text.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1 || recordedCommand !== command) return;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(path.basename(command))) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  fs.rmSync(pidFile, { force: true });
}

// Panics print their reason first and a long stack after: show both ends.
function readHeadAndTail(file: string, head: number, tail: number): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines.length <= head + tail) return lines.join('\n');
    return [...lines.slice(0, head), '…', ...lines.slice(-tail)].join('\n');
  } catch {
    return '(no log)';
  }
}

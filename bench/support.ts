/**
 * Shared pieces of the benchmarks: the report shape every benchmark returns,
 * latency statistics, a bounded worker pool, and small formatting helpers.
 * Nothing here asserts on time: benchmarks only measure and report.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb';

/** BenchRow is one line of the results table: Slipway against its baseline. */
export interface BenchRow {
  bench: string;
  measure: string;
  slipway: string;
  baseline: string;
  /** Slipway against the baseline, in the direction the measure names. */
  ratio: string;
  aim: string;
}

/** BenchReport is what one benchmark hands back: table rows and notes for the reader. */
export interface BenchReport {
  name: string;
  rows: BenchRow[];
  notes: string[];
}

/** BenchContext is what run.ts gives each benchmark. */
export interface BenchContext {
  quick: boolean;
  temporalAddress: string;
  mongodbUri: string;
  registryBackend: string;
  /** --parked <n>: how many releases the parked benchmark parks (its own default when absent). */
  parked?: number;
  /** --cache <n>: the parked benchmark measures only this maxCachedWorkflows setting. */
  cache?: number;
  /** --minutes <n>: how long the sustained benchmark keeps starting releases. */
  minutes?: number;
  /** --per-hour <n>: the sustained benchmark's start rate. */
  perHour?: number;
  /** Pids of the stack's servers by name (temporal, ferretdb or mongod), for CPU accounting. */
  pids: Record<string, number>;
}

/** Stats summarises a list of latencies in milliseconds. */
export interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** now is a monotonic clock in milliseconds, immune to wall-clock steps. */
export function now(): number {
  return performance.now();
}

/** percentile uses nearest rank on a sorted copy, so p99 of 2000 samples is the 1980th. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** summarize computes n, p50, p99 and mean of latencies. */
export function summarize(values: number[]): Stats {
  const mean = values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), mean };
}

/** ms formats a duration in milliseconds with precision that suits its size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
}

/** rate formats a throughput with its unit. */
export function rate(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${unit}`;
}

/** kib formats bytes in KiB, one decimal. */
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** mib formats bytes in whole MiB. */
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** ratio formats a/b as "1.23×", or n/a when either side is missing. */
export function ratio(a: number, b: number): string {
  const r = a / b;
  return Number.isFinite(r) && b !== 0 ? `${r.toFixed(2)}×` : 'n/a';
}

/** log writes progress to stderr, so stdout carries only the results. */
export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** dbUri points the stack's MongoDB URI at another database, so each benchmark has its own. */
export function dbUri(baseUri: string, database: string): string {
  const url = new URL(baseUri);
  url.pathname = `/${database}`;
  return url.toString();
}

/** PoolResult counts what a bounded pool finished, and how long it took. */
export interface PoolResult {
  started: number;
  succeeded: number;
  failed: number;
  elapsedMs: number;
  /** True when the time budget, not the count, stopped new work. */
  outOfTime: boolean;
  errors: string[];
}

/** runPool runs job(0..total-1), at most `concurrency` at once and none started after budgetMs; false or a throw counts as failed. */
export async function runPool(total: number, concurrency: number, budgetMs: number, job: (i: number) => Promise<boolean>): Promise<PoolResult> {
  const started = now();
  const result: PoolResult = { started: 0, succeeded: 0, failed: 0, elapsedMs: 0, outOfTime: false, errors: [] };
  let next = 0;
  const lane = async () => {
    while (next < total) {
      if (now() - started > budgetMs) {
        result.outOfTime = true;
        return;
      }
      const i = next++;
      result.started += 1;
      try {
        if (await job(i)) result.succeeded += 1;
        else result.failed += 1;
      } catch (err) {
        result.failed += 1;
        if (result.errors.length < 5) result.errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  result.elapsedMs = now() - started;
  return result;
}

/** withTimeout rejects when the promise has not settled after timeoutMs; the timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** pollUntil calls check every intervalMs until it returns a value, or returns undefined after timeoutMs. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, intervalMs: number, timeoutMs: number): Promise<T | undefined> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** CommandTally is what one kind of MongoDB command (e.g. "find deployments") cost while a monitor listened. */
export interface CommandTally {
  count: number;
  totalMs: number;
  /** Replies carrying write errors, e.g. an audit insert that lost the race for its seq. */
  writeErrors: number;
}

/** monitorCommands tallies a client's commands by command and collection until stop(); the client needs monitorCommands: true. */
export function monitorCommands(client: MongoClient): { tallies: Map<string, CommandTally>; stop: () => void } {
  const tallies = new Map<string, CommandTally>();
  const kinds = new Map<number, string>();
  const started = (e: CommandStartedEvent) => {
    const target = e.command[e.commandName];
    kinds.set(e.requestId, typeof target === 'string' ? `${e.commandName} ${target}` : e.commandName);
  };
  const finished = (e: CommandSucceededEvent | CommandFailedEvent) => {
    const kind = kinds.get(e.requestId);
    if (kind === undefined) return;
    kinds.delete(e.requestId);
    const t = tallies.get(kind) ?? { count: 0, totalMs: 0, writeErrors: 0 };
    t.count += 1;
    t.totalMs += e.duration;
    const writeErrors = 'reply' in e ? (e.reply as { writeErrors?: unknown[] }).writeErrors : undefined;
    if (Array.isArray(writeErrors) && writeErrors.length > 0) t.writeErrors += 1;
    tallies.set(kind, t);
  };
  client.on('commandStarted', started);
  client.on('commandSucceeded', finished);
  client.on('commandFailed', finished);
  return {
    tallies,
    stop: () => {
      client.off('commandStarted', started);
      client.off('commandSucceeded', finished);
      client.off('commandFailed', finished);
    },
  };
}

/** settle waits until the client has sent no command for quietMs (bounded by timeoutMs), so leftover work does not load the next measurement. */
export async function settle(client: MongoClient, quietMs: number, timeoutMs: number): Promise<boolean> {
  const monitor = monitorCommands(client);
  const count = () => [...monitor.tallies.values()].reduce((a, t) => a + t.count, 0);
  try {
    const deadline = now() + timeoutMs;
    let seen = -1;
    let quietSince = now();
    while (now() < deadline) {
      const c = count();
      if (c !== seen) {
        seen = c;
        quietSince = now();
      } else if (now() - quietSince >= quietMs) {
        return true;
      }
      await sleep(100);
    }
    return false;
  } finally {
    monitor.stop();
  }
}

/** terminateWorkflows terminates the workflows a visibility query lists (at most 50,000), 20 at a time, and counts them. */
export async function terminateWorkflows(client: Client, query: string, reason: string): Promise<{ terminated: number; failed: number }> {
  const ids: string[] = [];
  const deadline = now() + 120_000;
  for await (const execution of client.workflow.list({ query })) {
    ids.push(execution.workflowId);
    if (ids.length >= 50_000 || now() > deadline) break;
  }
  const result = await runPool(ids.length, 20, 600_000, async (i) => {
    await client.workflow.getHandle(ids[i]!).terminate(reason);
    return true;
  });
  return { terminated: result.succeeded, failed: result.failed };
}

/** CpuSeconds is CPU time (user + system) used so far, by process: `bench` is this process, the rest the stack's servers. */
export type CpuSeconds = Record<string, number>;

/** cpuSeconds reads this process's CPU time and each server's from /proc (Linux; servers it cannot read are left out). */
export function cpuSeconds(pids: Record<string, number>): CpuSeconds {
  const { user, system } = process.cpuUsage();
  const out: CpuSeconds = { bench: (user + system) / 1e6 };
  for (const [name, pid] of Object.entries(pids)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the ")" that closes the command name start at field 3; utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // not Linux, or the server has gone: leave it out
    }
  }
  return out;
}

/** cpuPer divides the CPU used between two samples by a count, per process, formatted as "bench 12 ms · temporal 30 ms". */
export function cpuPer(before: CpuSeconds, after: CpuSeconds, count: number): { total: number; text: string } {
  const parts = Object.keys(after).map((name) => [name, ((after[name]! - (before[name] ?? 0)) * 1000) / count] as const);
  const total = parts.reduce((a, [, v]) => a + v, 0);
  return { total, text: parts.map(([name, v]) => `${name} ${v.toFixed(0)} ms`).join(' · ') };
}

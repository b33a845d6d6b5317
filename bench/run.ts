/**
 * The benchmark command: starts its own stack (Temporal dev server and the
 * registry database, on free ports, data under .slipway/bench-runs/<pid>),
 * runs the benchmarks in this process, prints a markdown table of Slipway
 * against baselines measured alongside, and writes it to docs/benchmarks.md.
 *
 *   npm run bench                    # everything but the long runs (~6 min on 2 cores)
 *   npm run bench -- --quick         # smaller counts: a smoke run
 *   npm run bench -- registry        # one benchmark by name
 *   npm run bench -- sustained       # 1,000 releases/hour for 10 min (--minutes, --per-hour)
 *   npm run bench -- parked --parked 10000
 *
 * Figures are ratios against a baseline from the same run; nothing is asserted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, startStack, type RunningStack } from '../devstack/stack';
import { boardBench } from './board.bench';
import { concurrencyBench } from './concurrency.bench';
import { decisionsBench } from './decisions.bench';
import { parkedBench } from './parked.bench';
import { registryBench } from './registry.bench';
import { releaseBench } from './release.bench';
import { servingBench } from './serving.bench';
import { sustainedBench } from './sustained.bench';
import { type BenchContext, type BenchReport, log } from './support';

// `long` ones run only when named: they take ten minutes or more by design.
const BENCHMARKS: { name: string; run: (ctx: BenchContext) => Promise<BenchReport>; long?: boolean }[] = [
  { name: 'registry', run: registryBench },
  { name: 'decisions', run: decisionsBench },
  { name: 'release', run: releaseBench },
  { name: 'concurrency', run: concurrencyBench },
  { name: 'parked', run: parkedBench },
  { name: 'serving', run: servingBench },
  { name: 'board', run: boardBench },
  { name: 'sustained', run: sustainedBench, long: true },
];

const USAGE = `usage: npm run bench -- [--quick] [--parked <n>] [--cache <n>] [--minutes <n>] [--per-hour <n>] [${BENCHMARKS.map((b) => b.name).join('|')}]`;
const DOC_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');

interface Args {
  quick: boolean;
  only: string | undefined;
  parked?: number;
  cache?: number;
  minutes?: number;
  perHour?: number;
}

const NUMERIC_FLAGS = { '--parked': 'parked', '--cache': 'cache', '--minutes': 'minutes', '--per-hour': 'perHour' } as const;

function parseArgs(argv: string[]): Args | string {
  const args: Args = { quick: false, only: undefined };
  let only: string | undefined;
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    const flag = Object.keys(NUMERIC_FLAGS).find((f) => arg === f || arg.startsWith(`${f}=`)) as keyof typeof NUMERIC_FLAGS | undefined;
    if (arg === '--quick') args.quick = true;
    else if (flag !== undefined) {
      const value = arg === flag ? argv[++k] : arg.slice(flag.length + 1);
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) return `${flag} needs a positive whole number (got ${value ?? 'nothing'})\n${USAGE}`;
      args[NUMERIC_FLAGS[flag]] = n;
    }
    else if (arg === '--help' || arg === '-h') return USAGE;
    else if (arg.startsWith('-')) return `unknown option ${arg}\n${USAGE}`;
    else if (only !== undefined) return `give at most one benchmark name (got ${only} and ${arg})\n${USAGE}`;
    else if (!BENCHMARKS.some((b) => b.name === arg)) return `no benchmark named "${arg}"; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n${USAGE}`;
    else only = arg;
  }
  return { ...args, only };
}

function describeMachine(stack: RunningStack, loadAtStart: number[]): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    cpu = os.cpus()[0]?.model ?? cpu;
  }
  const backend = { ferretdb: 'FerretDB 1.24 (SQLite backend)', mongod: 'mongod', external: 'external MongoDB (SLIPWAY_MONGODB_URI)' }[stack.registryBackend];
  return [
    `CPU: ${cpu}`,
    `${os.cpus().length} cores`,
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory`,
    `Node ${process.version}`,
    `${os.type()} ${os.release()}`,
    `registry: ${backend}`,
    'Temporal: CLI dev server v1.5.1 (SQLite)',
    // Other work on the machine skews figures taken one after another; this shows whether there was any.
    `1-min load average ${loadAtStart[0]!.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end`,
  ].join(' · ');
}

function render(reports: BenchReport[], machine: string, mode: string, startedAt: Date, seconds: number): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    '# Slipway benchmarks',
    '',
    `Run ${startedAt.toISOString().slice(0, 10)} (${startedAt.toISOString()}) with \`npm run bench${mode}\`, ${seconds.toFixed(0)} s in all.`,
    '',
    `Machine: ${machine}`,
    '',
    'Each figure is set against a baseline measured in the same process on the same stack, so the ratio matters more than the absolute number. ' +
      'Nothing is asserted: these are measurements, not tests.',
    '',
    '| benchmark | measure | Slipway | baseline | ratio | aim |',
    '| --- | --- | --- | --- | --- | --- |',
    ...reports.flatMap((r) => r.rows.map((row) => `| ${[row.bench, row.measure, row.slipway, row.baseline, row.ratio, row.aim].map(cell).join(' | ')} |`)),
    '',
  ];
  for (const r of reports) {
    if (r.notes.length === 0) continue;
    lines.push(`**${r.name}**`, '', ...r.notes.map((n) => `- ${n}`), '');
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`);
    return args === USAGE ? 0 : 2;
  }
  const selected = BENCHMARKS.filter((b) => (args.only === undefined ? !b.long : b.name === args.only));
  const dataDir = path.join(REPO_ROOT, '.slipway', 'bench-runs', String(process.pid));
  fs.rmSync(dataDir, { recursive: true, force: true });

  let stackStarting: Promise<RunningStack> | undefined;
  let stopping: Promise<void> | undefined;
  const stopStack = () => {
    stopping ??= (async () => {
      const stack = await stackStarting?.catch(() => undefined);
      await stack?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const onSignal = (code: number) => {
    log('interrupted: stopping the stack');
    void stopStack().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal(130));
  process.once('SIGTERM', () => onSignal(143));

  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  let stack: RunningStack | undefined;
  const t0 = Date.now();
  const reports: BenchReport[] = [];
  let failed = false;
  try {
    stackStarting = startStack({ dataDir, database: 'slipway_bench', startTimeoutSec: 120 });
    stack = await stackStarting;
    log(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: Temporal ${stack.temporalAddress}, registry ${stack.mongodbUri} (${stack.registryBackend})`);
    const ctx: BenchContext = {
      quick: args.quick,
      temporalAddress: stack.temporalAddress,
      mongodbUri: stack.mongodbUri,
      registryBackend: stack.registryBackend,
      parked: args.parked,
      cache: args.cache,
      minutes: args.minutes,
      perHour: args.perHour,
      pids: Object.fromEntries(stack.processes.flatMap((p) => (p.child.pid === undefined ? [] : [[p.name, p.child.pid] as const]))),
    };
    for (const bench of selected) {
      const benchStarted = Date.now();
      log(`${bench.name}: starting${args.quick ? ' (quick)' : ''}`);
      try {
        reports.push(await bench.run(ctx));
      } catch (err) {
        failed = true;
        const message = err instanceof Error ? err.message : String(err);
        log(`${bench.name} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
        reports.push({ name: bench.name, rows: [{ bench: bench.name, measure: 'did not finish', slipway: `failed: ${message.split('\n')[0]}`, baseline: '', ratio: '', aim: '' }], notes: [] });
      }
      log(`${bench.name}: done in ${((Date.now() - benchStarted) / 1000).toFixed(1)}s`);
    }
  } finally {
    await stopStack();
  }

  const numeric = Object.entries(NUMERIC_FLAGS).flatMap(([flag, key]) => (args[key] !== undefined ? [`${flag} ${args[key]}`] : []));
  const flags = [args.quick ? '--quick' : '', ...numeric, args.only ?? ''].filter((f) => f !== '');
  const mode = flags.length > 0 ? ` -- ${flags.join(' ')}` : '';
  const markdown = render(reports, describeMachine(stack, loadAtStart), mode, startedAt, (Date.now() - t0) / 1000);
  process.stdout.write(`${markdown}\n`);
  fs.mkdirSync(path.dirname(DOC_FILE), { recursive: true });
  fs.writeFileSync(DOC_FILE, markdown);
  log(`wrote ${path.relative(REPO_ROOT, DOC_FILE)}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { REPO_ROOT } from '../../devstack/stack';
import { openTestDb, testEnv, type TestDb } from '../support/stack';

const execFileAsync = promisify(execFile);

const verbs = fc.constantFrom(
  ['model', 'register'],
  ['model', 'show'],
  ['deployments'],
  ['release', 'start'],
  ['release', 'status'],
  ['release', 'list'],
  ['approve'],
  ['reject'],
  ['rollback'],
  ['dora'],
  ['subscription', 'add'],
  ['subscription', 'list'],
  ['subscription', 'remove'],
  ['subscription', 'deliveries'],
  ['nonsense'],
);
const word = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('$where', '{"$gt":""}', 'a.b', '../../etc/passwd', '-', '--', '🚀', 'x'.repeat(5000), '--stage', '--as', '--sha256', '--artifact', '--metrics', '--since', '--limit', '--at', '--env', '--to', '--status', '--json', '--url', '--events', '--secret-env', '--format', '--subscription', 'http://127.0.0.1:1/x', 'SLIPWAY_EVENT_SECRET_X', '*'),
);

// Arguments a confused user or a hostile script would pass. `dev` and the
// waiting flags are left out: they start servers or wait by design.
const argv = fc
  .tuple(verbs, fc.array(word, { maxLength: 6 }), fc.boolean())
  .map(([verb, rest, json]) => [...verb, ...rest.filter((w) => !['--wait', '--watch', 'dev'].includes(w)), ...(json ? ['--json'] : [])]);

describe('the slipway command under hostile arguments', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
  });
  after(async () => t?.close());

  it('never crashes: every run exits with a contract code, no stack trace, and --json output parses', async () => {
    const env = { ...process.env, SLIPWAY_MONGODB_URI: t.uri, TEMPORAL_ADDRESS: testEnv().temporalAddress, SLIPWAY_TASK_QUEUE: 'cli-fuzz' };
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        let code = 0;
        let stdout: string;
        let stderr: string;
        try {
          ({ stdout, stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin', 'slipway.js'), ...args], { env, timeout: 30_000, maxBuffer: 8 * 1024 * 1024 }));
        } catch (err) {
          const e = err as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
          assert.ok(!e.killed, `timed out: ${JSON.stringify(args)}`);
          code = typeof e.code === 'number' ? e.code : -1;
          stdout = e.stdout ?? '';
          stderr = e.stderr ?? '';
        }
        assert.ok([0, 1, 2, 3, 4, 5].includes(code), `exit ${code} for ${JSON.stringify(args)}: ${stderr.slice(0, 500)}`);
        assert.doesNotMatch(stderr, /^\s+at .+\(.+:\d+:\d+\)$/m, `stack trace for ${JSON.stringify(args)}: ${stderr.slice(0, 800)}`);
        if (args.includes('--json') && stdout.trim() !== '' && !args.includes('--help') && !args.includes('-h')) {
          assert.doesNotThrow(() => JSON.parse(stdout), `stdout is not one JSON document for ${JSON.stringify(args)}: ${stdout.slice(0, 300)}`);
        }
      }),
      { numRuns: 25, seed: 7 },
    );
  });
});

/**
 * The test command: starts one Temporal dev server and one registry database
 * on free loopback ports (never the user's dev stack), runs every test file
 * with node's test runner against them, and stops both, whatever happens.
 *
 *   npm test                      # everything
 *   npm test -- test/unit/x.test.ts   # chosen files
 *   npm run test:unit             # pure tests only (test/unit, test/replay): no servers
 *
 * Tests live under test/, and beside the plugin each one checks
 * (gates/<type>/<type>.test.ts and the like).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startStack } from '../devstack/stack';

// Folders searched for *.test.ts files.
const TEST_ROOTS = ['test', 'gates', 'targets', 'health', 'serving', 'lib'];

function findTests(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

// Tests that need no Temporal or registry server: pure code, plugin tests, and replays of recorded histories.
const PURE_TEST_DIRS = ['test/unit', 'test/replay', ...TEST_ROOTS.filter((root) => root !== 'test')];

function runNodeTests(files: string[], env: NodeJS.ProcessEnv, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit', env });
    onStart?.(child);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}

/**
 * isolatedEnv is the test processes' environment: none of the shell's
 * TEMPORAL_* settings and a temporal.toml with one empty profile, so a user's
 * ~/.config/temporalio/temporal.toml (say, a Temporal Cloud profile) never
 * sends tests elsewhere. Tests that want TLS or a profile set their own.
 */
function isolatedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const configFile = path.join(REPO_ROOT, '.slipway', 'test-temporal.toml');
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  fs.writeFileSync(configFile, '# written by test/run.ts: tests read no user Temporal profile\n[profile]\n');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
  return { ...env, TEMPORAL_CONFIG_FILE: configFile, ...extra };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--unit') {
    const files = PURE_TEST_DIRS.flatMap((d) => findTests(path.join(REPO_ROOT, d)));
    // No servers: a pure test that reaches for one fails instead of finding the user's.
    const env = isolatedEnv({ TEMPORAL_ADDRESS: '127.0.0.1:1', SLIPWAY_MONGODB_URI: 'mongodb://127.0.0.1:1/none' });
    process.exit(await runNodeTests(files, env));
  }
  const chosen = args;
  const files = chosen.length > 0 ? chosen : TEST_ROOTS.flatMap((root) => findTests(path.join(REPO_ROOT, root)));
  if (files.length === 0) {
    process.stderr.write(`no test files found under ${TEST_ROOTS.join('/, ')}/\n`);
    return 1;
  }
  const dataDir = path.join(REPO_ROOT, '.slipway', 'test-runs', String(process.pid));
  fs.rmSync(dataDir, { recursive: true, force: true });
  const started = Date.now();
  const stack = await startStack({ dataDir, database: 'slipway_test', startTimeoutSec: 120 });
  process.stdout.write(
    `test stack ready in ${((Date.now() - started) / 1000).toFixed(1)}s: Temporal ${stack.temporalAddress}, ` +
      `Web UI ${stack.uiUrl}, registry ${stack.mongodbUri} (${stack.registryBackend})\n`,
  );

  let child: ReturnType<typeof spawn> | undefined;
  const stopAll = async (code: number) => {
    child?.kill('SIGTERM');
    await stack.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(130));
  process.on('SIGTERM', () => void stopAll(143));

  const env = isolatedEnv({
    TEMPORAL_ADDRESS: stack.temporalAddress,
    SLIPWAY_MONGODB_URI: stack.mongodbUri,
    SLIPWAY_TEST_UI_URL: stack.uiUrl,
    SLIPWAY_TEST_REGISTRY_BACKEND: stack.registryBackend,
  });
  const code = await runNodeTests(files, env, (c) => (child = c));
  await stopAll(code);
  return code;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`test run failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

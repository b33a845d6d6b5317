// ESLint: typed rules everywhere (no floating promises), workflow code kept
// free of Node built-ins and I/O packages so it stays deterministic, and the
// pure modules pipeline parsing loads (domain/, the gate registrations) kept
// free of I/O so the CLI and API never load what gates call.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioPackages = ['mongodb', 'fastify', 'pino', 'undici', 'axios', 'commander', 'yaml', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'];
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
// What a pure module may not load at run time (YAML parsing is allowed: it is pure).
const impure = [...nodeBuiltins, ...ioPackages.filter((p) => p !== 'yaml'), 'onnxruntime-node', 'prom-client', 'ajv'];
const pureFiles = ['domain/**/*.ts', 'gates/index.ts', 'gates/types.ts', 'gates/fields.ts', 'gates/*/index.ts', 'gates/*/schema.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.slipway/**', 'tools/**', 'bin/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code: the workflows, and the lock's workflows, waiting line and contract.
    files: ['workflows/**/*.ts', 'locks/*.workflow.ts', 'locks/waiting-line.ts', 'locks/api.ts'],
    rules: { 'no-restricted-imports': workflowImportRule([]) },
  },
  {
    // Inside locks/, `./activities` and `./leases` are the lock's I/O (in workflows/release/, `./activities` is workflow code).
    files: ['locks/*.workflow.ts', 'locks/waiting-line.ts', 'locks/api.ts'],
    rules: { 'no-restricted-imports': workflowImportRule(['./activities', './leases']) },
  },
  {
    files: pureFiles,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: impure.map((name) => ({ name, message: 'pipeline parsing loads this module: keep I/O in a gate implementation, loaded on first run', allowTypeImports: true })),
          patterns: [
            { group: ['**/registry/*', '**/activities/*', '**/serving/*', '**/lib/*', '**/workers/*', '**/api/*', '**/cli/*'], allowTypeImports: true,
              message: 'pipeline parsing loads this module: import only domain/, gates/ schemas and types' },
          ],
        },
      ],
    },
  },
  {
    // A gate's registration loads its implementation on first run: require() is the lazy load that works under tsx's CommonJS hook too.
    files: ['gates/*/index.ts'],
    rules: { '@typescript-eslint/no-require-imports': ['error', { allow: ['^\\./[a-z0-9-]+$'] }] },
  },
);

function workflowImportRule(extraGroups) {
  return [
    'error',
    {
      paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...ioPackages].map((name) => ({
        name,
        message: 'workflow code must be deterministic: do I/O in an activity, not in workflow code',
        allowTypeImports: true,
      })),
      patterns: [
        {
          group: [
            '**/registry', '**/registry/*', '**/activities', '**/activities/*', '**/api/*', '**/cli/*', '**/workers/*', '**/devstack/*',
            // The lock's activities and lease store.
            '**/locks/activities', '**/locks/leases',
            // Plugins and their helpers run in activities.
            '**/gates/*', '**/targets/*', '**/health/*', '**/serving/*', '**/lib/*',
            ...extraGroups,
          ],
          allowTypeImports: true,
          message: 'workflow code may import only @temporalio/workflow, domain/, other workflow code and activity types',
        },
      ],
    },
  ];
}

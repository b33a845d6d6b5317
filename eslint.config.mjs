// ESLint: typed rules everywhere (no floating promises), and workflow code kept
// free of Node built-ins and I/O packages so it stays deterministic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioPackages = ['mongodb', 'fastify', 'pino', 'undici', 'axios', 'commander', 'yaml', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'];

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
            ...extraGroups,
          ],
          allowTypeImports: true,
          message: 'workflow code may import only @temporalio/workflow, domain/, other workflow code and activity types',
        },
      ],
    },
  ];
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../config';
import { parsePipeline } from '../../domain/pipeline';
import { checkPipelineSecrets } from '../../domain/pipeline-secrets';
import { NO_SECRETS, isReservedEnv, parseSecretEnvAllow, pickAllowedSecrets, secretEnvRefusal } from '../../domain/secret-env';
import { SecretRefusedError, createSandbox } from '../../lib/sandbox';
import { MODEL_SERVER_ENV_ALLOWLIST, modelServerEnv } from '../../serving/supervisor';

// Slipway's and Temporal's own secrets, which no setting may ever let a pipeline read.
const OWN = ['SLIPWAY_CODEC_KEYS', 'SLIPWAY_API_SIGNING_KEY', 'SLIPWAY_AUDIT_SIGNING_KEY', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'SLIPWAY_MONGODB_URI', 'SLIPWAY_WEBHOOK_SECRET', 'slipway_codec_keys'];

const nameChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789abc'.split(''));
const envName = fc.tuple(fc.constantFrom(...'ABCGSTX_'.split('')), fc.array(nameChar, { maxLength: 20 })).map(([first, rest]) => first + rest.join(''));
const entry = fc.oneof(envName, envName.map((n) => `${n}*`), fc.constantFrom(...OWN), fc.constantFrom('S*', 'SLIP*', 'SLIPWAY_*', 'T*', 'TEMPORAL*', '*', 'TEMPORAL_TLS_*'));

describe('secret variables by allowlist', () => {
  it('never lets Slipway\'s or Temporal\'s own variables through, whatever the allowlist says', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        let allow;
        try {
          allow = parseSecretEnvAllow(entries.join(','));
        } catch (err) {
          assert.match((err as Error).message, /^SLIPWAY_SECRET_ENV_ALLOW: /, 'a refused allowlist names the setting');
          return;
        }
        for (const own of OWN) assert.notEqual(secretEnvRefusal(own, allow), undefined, own);
        const env = Object.fromEntries(OWN.map((n) => [n, 'secret-value']));
        assert.deepEqual(pickAllowedSecrets(env, allow), {});
      }),
    );
  });

  it('allows exactly the names and prefixes listed', () => {
    fc.assert(
      fc.property(envName, fc.array(envName, { maxLength: 5 }), (name, listed) => {
        fc.pre(!isReservedEnv(name) && listed.every((n) => !isReservedEnv(n)));
        const allow = parseSecretEnvAllow(listed.join(','));
        assert.equal(secretEnvRefusal(name, allow) === undefined, listed.includes(name));
      }),
    );
    const allow = parseSecretEnvAllow(' GATE_SECRET , LLM_* ');
    assert.deepEqual(allow, { names: ['GATE_SECRET'], prefixes: ['LLM_'] });
    assert.equal(secretEnvRefusal('LLM_OPENAI_KEY', allow), undefined);
    assert.match(secretEnvRefusal('AWS_SECRET_ACCESS_KEY', allow) ?? '', /^AWS_SECRET_ACCESS_KEY is not in SLIPWAY_SECRET_ENV_ALLOW; add it \(or a prefix such as AWS_\*\) to SLIPWAY_SECRET_ENV_ALLOW/);
    assert.notEqual(secretEnvRefusal('GATE_SECRET', NO_SECRETS), undefined, 'nothing is allowed by default');
  });

  it('refuses an allowlist entry that would reach a reserved variable, naming the entry', () => {
    for (const bad of ['SLIPWAY_*', 'SLIP*', 'S*', 'TEMPORAL_API_KEY', 'temporal_*', '*']) {
      assert.throws(() => parseSecretEnvAllow(`GATE_SECRET,${bad}`), new RegExp(`^Error: SLIPWAY_SECRET_ENV_ALLOW: "${bad.replace('*', '\\*')}" `), bad);
    }
    assert.throws(() => parseSecretEnvAllow('GATE-SECRET'), /"GATE-SECRET" is not a variable name or a prefix ending in "\*"/);
  });

  it('lists every secret variable a pipeline names that the allowlist refuses, at its path', () => {
    const pipeline = parsePipeline(
      `name: p
stages:
  - env: dev
    gates:
      - { type: webhook, url: "https://gates.example.com/a", secretEnv: GATE_SECRET }
      - { type: webhook, name: two, url: "https://gates.example.com/b", secretEnv: SLIPWAY_CODEC_KEYS }
  - env: prod
    gates:
      - { type: prompt-suite, suite: s.yaml, baseUrl: "https://llm.example.com", model: m, apiKeyEnv: OPENAI_API_KEY }
`,
      'p.yaml',
    );
    const issues = checkPipelineSecrets(pipeline, 'p.yaml', parseSecretEnvAllow('GATE_SECRET'));
    assert.deepEqual(issues.map((i) => [i.file, i.path]), [['p.yaml', 'stages[0].gates[1].secretEnv'], ['p.yaml', 'stages[1].gates[0].apiKeyEnv']]);
    assert.match(issues[1]?.reason ?? '', /OPENAI_API_KEY is not in SLIPWAY_SECRET_ENV_ALLOW/);
  });

  it('reads only the allowed variables\' values into the configuration, and the sandbox hands out only those', () => {
    const config = loadConfig({ SLIPWAY_SECRET_ENV_ALLOW: 'GATE_SECRET', GATE_SECRET: 'g-value', OTHER: 'o-value', SLIPWAY_CODEC_KEYS: 'k:abc' });
    assert.deepEqual(config.secretEnv, { GATE_SECRET: 'g-value' });
    const sandbox = createSandbox({ settings: config.pluginSettings, secrets: config.secretEnv });
    assert.equal(sandbox.secret('GATE_SECRET', 'secretEnv'), 'g-value');
    assert.throws(() => sandbox.secret('OTHER', 'apiKeyEnv'), (err: unknown) => err instanceof SecretRefusedError && /^apiKeyEnv: OTHER is not in SLIPWAY_SECRET_ENV_ALLOW/.test(err.message) && !err.message.includes('o-value'));
    assert.throws(() => sandbox.secret('SLIPWAY_CODEC_KEYS', 'secretEnv'), (err: unknown) => err instanceof SecretRefusedError && !err.message.includes('k:abc'));
    assert.throws(() => loadConfig({ SLIPWAY_SECRET_ENV_ALLOW: 'SLIPWAY_*' }), /SLIPWAY_SECRET_ENV_ALLOW: "SLIPWAY_\*" would allow SLIPWAY_\* or TEMPORAL_\* variables/);
  });

  it('starts local model servers with none of the worker\'s keys, passwords or pipeline secrets', () => {
    fc.assert(
      fc.property(envName, (name) => {
        const env = modelServerEnv({ PATH: '/usr/bin', LC_ALL: 'C', NODE_OPTIONS: '--max-old-space-size=512', [name]: 'secret-value', SLIPWAY_CODEC_KEYS: 'k', TEMPORAL_API_KEY: 'k', SLIPWAY_MONGODB_URI: 'mongodb://u:p@h/db' }, 'admin-token');
        const allowed = new Set<string>([...MODEL_SERVER_ENV_ALLOWLIST, 'SLIPWAY_MODEL_SERVER_TOKEN']);
        assert.ok(Object.keys(env).every((k) => allowed.has(k)), Object.keys(env).join());
        assert.equal(env.SLIPWAY_MODEL_SERVER_TOKEN, 'admin-token');
        assert.equal(env.SLIPWAY_CODEC_KEYS, undefined);
        assert.equal(env.SLIPWAY_MONGODB_URI, undefined);
      }),
    );
  });
});

/**
 * The API refuses to start with a token this repository publishes: one list
 * of their hashes (api/example-tokens.ts), kept in step with every example
 * token printed in deploy/, docs/, examples/ and the README.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { sha256Hex } from '../../api/auth';
import { createAuthenticator } from '../../api/bootstrap';
import { PUBLISHED_EXAMPLE_TOKEN_SHA256 } from '../../api/example-tokens';
import { loadConfig } from '../../config';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE_FILE = path.join(ROOT, 'deploy', 'api-tokens.example.yaml');

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(md|ya?ml|json|sh|env|txt)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

function printedExampleTokens(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...filesUnder('deploy'), ...filesUnder('docs'), ...filesUnder('examples'), path.join(ROOT, 'README.md')]) {
    for (const [token] of fs.readFileSync(file, 'utf8').matchAll(/\bslw_example_[A-Za-z0-9_-]+/g)) found.set(token, path.relative(ROOT, file));
  }
  return found;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-tokens-'));
function tokensFile(name: string, tokens: unknown[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, YAML.stringify({ tokens }));
  return file;
}

describe('published example tokens', () => {
  it('lists the hash of every example token printed in the repository and of every entry in the example tokens file', () => {
    const printed = printedExampleTokens();
    assert.ok(printed.size >= 4, 'expected the example tokens of deploy/api-tokens.example.yaml');
    for (const [token, file] of printed) assert.ok(PUBLISHED_EXAMPLE_TOKEN_SHA256.has(sha256Hex(token)), `${token} (printed in ${file}) is missing from api/example-tokens.ts`);
    const example = YAML.parse(fs.readFileSync(EXAMPLE_FILE, 'utf8')) as { tokens: { sha256: string }[] };
    for (const { sha256 } of example.tokens) assert.ok(PUBLISHED_EXAMPLE_TOKEN_SHA256.has(sha256), `${sha256} of the example file is missing from the list`);
  });

  it('refuses, at start, the example tokens file, naming SLIPWAY_API_TOKENS and every example user', () => {
    assert.throws(() => createAuthenticator(loadConfig({ SLIPWAY_API_TOKENS: EXAMPLE_FILE })), /^Error: SLIPWAY_API_TOKENS: .*api-tokens\.example\.yaml holds published example tokens \(users ops, ci-bot, alice, bob;/);
  });

  it('refuses a file that mixes an example token, stored as a hash or as the token itself, with real ones', () => {
    const real = { user: 'ci', sha256: sha256Hex('slw_a-real-token-nobody-printed-0123'), roles: ['releaser'], approves: [] };
    const asToken = tokensFile('plain.yaml', [real, { user: 'copy', token: 'slw_example_bob_change_me_before_use', roles: ['viewer'], approves: [] }]);
    assert.throws(() => createAuthenticator(loadConfig({ SLIPWAY_API_TOKENS: asToken })), /users copy;/);
    const asHash = tokensFile('hash.yaml', [real, { user: 'ops2', sha256: sha256Hex('slw_example_ops_change_me_before_use'), roles: ['admin'], approves: ['*'] }]);
    assert.throws(() => createAuthenticator(loadConfig({ SLIPWAY_API_TOKENS: asHash })), /users ops2;/);
    assert.ok(createAuthenticator(loadConfig({ SLIPWAY_API_TOKENS: tokensFile('own.yaml', [real]) })));
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parsePipeline } from '../domain/pipeline';
import { GATES, defaultGates } from './index';

// What gate implementations bring in (paths from the repository root); pipeline parsing must load none of it.
const IMPLEMENTATION = /^(gates\/[a-z-]+\/(?!index\.ts|schema\.ts)|gates\/verdicts\.ts|lib\/|serving\/|registry\/|node_modules\/(onnxruntime-node|ajv|mongodb|@temporalio)\/)/;
const REPO_ROOT = path.resolve(__dirname, '..');

describe('the gate list', () => {
  it('gives pipeline parsing every schema without loading any gate implementation', () => {
    const yaml = `name: p\nstages:\n  - env: dev\n    gates:\n${GATES.map((g) => `      - { type: ${g.type}, name: n-${g.type} }`).join('\n')}\n`;
    // Each type's own schema answers (here: fields missing), so every type is known to the pipeline.
    assert.throws(() => parsePipeline(yaml, 'p.yaml'), (err: Error) => !/unknown gate type/.test(err.message));
    const loaded = Object.keys(require.cache).map((file) => path.relative(REPO_ROOT, file).split(path.sep).join('/')).filter((file) => IMPLEMENTATION.test(file));
    assert.deepEqual(loaded, []);
  });

  it('registers each type once, and the worker gets them all', () => {
    const types = GATES.map((g) => g.type);
    assert.equal(new Set(types).size, types.length);
    assert.deepEqual([...defaultGates().keys()], types);
  });
});

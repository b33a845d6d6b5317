import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import YAML from 'yaml';
import { parseCodecKeys } from '../../codec/aes-gcm';
import { parseDuration } from '../../domain/duration';
import { registerVersionInputSchema } from '../../domain/model-version';
import { PipelineError, parsePipeline } from '../../domain/pipeline';
import { validateApprovalInput } from '../../domain/quorum';

// Values an attacker or a broken client would send: deep nesting, huge and
// odd strings, operators, prototype keys, wrong types.
const nasty = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.string({ unit: 'grapheme', maxLength: 50 }),
    fc.constantFrom('$gt', '$where', '__proto__', 'constructor', 'a.b', '', '\u0000', '🚀'.repeat(100), 'x'.repeat(100_000)),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('$gt', '$ne', '__proto__', 'a.b', 'stage', 'approver', 'model')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function deep(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = { stages: [v] };
  return v;
}

describe('hostile input never crashes and always gets a clear error', () => {
  it('pipeline YAML: any text parses to a pipeline or a PipelineError naming file and path', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 2000 }), nasty.map((v) => YAML.stringify(v))), (text) => {
        try {
          parsePipeline(text, 'fuzz.yaml');
        } catch (err) {
          assert.ok(err instanceof PipelineError, `threw ${String(err)}`);
          assert.ok(err.issues.length > 0 && err.issues.every((i) => i.file === 'fuzz.yaml' && i.reason.length > 0));
        }
      }),
      { numRuns: 400 },
    );
    assert.throws(() => parsePipeline(`stages: ${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'deep.yaml'), PipelineError);
    assert.throws(() => parsePipeline(YAML.stringify(deep(300)), 'deep.yaml'), PipelineError);
    assert.throws(() => parsePipeline(Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'), 'deep.yaml'), PipelineError);
  });

  it('approval messages: any value is accepted as valid or refused with the field named', () => {
    fc.assert(
      fc.property(nasty, (value) => {
        const result = validateApprovalInput(value);
        if (result.ok) {
          assert.equal(typeof result.value.stage, 'string');
          assert.equal(typeof result.value.approver, 'string');
          assert.doesNotMatch(result.value.approver, /^\$/);
        } else {
          assert.match(result.error, /stage|approver|comment|object|key/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('version registrations: any body is validated without throwing, and nothing with an operator or dot in a key passes', () => {
    fc.assert(
      fc.property(nasty, fc.dictionary(fc.string(), fc.double()), (model, metrics) => {
        const result = registerVersionInputSchema.safeParse({ model, version: '1', artifact: { uri: 's3://x', sha256: 'a'.repeat(64) }, metrics });
        if (result.success) {
          assert.match(result.data.model, /^[A-Za-z0-9][A-Za-z0-9_-]*$/);
          for (const key of Object.keys(result.data.metrics)) assert.match(key, /^[A-Za-z][A-Za-z0-9_]*$/);
        } else {
          assert.ok(result.error.issues.every((i) => i.message.length > 0));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('durations and codec keys: any string parses or fails with the accepted format', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          const ms = parseDuration(text);
          assert.ok(Number.isFinite(ms) && ms >= 0);
        } catch (err) {
          assert.match((err as Error).message, /duration/i);
        }
        try {
          parseCodecKeys(text);
        } catch (err) {
          assert.match((err as Error).message, /SLIPWAY_CODEC_KEYS/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('artifact URIs', () => {
  it('registers only paths and the file:, s3: and https: schemes, naming the field', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9+.-]{1,10}$/), fc.string({ maxLength: 40 }), (scheme, rest) => {
        const uri = `${scheme}:${rest}`;
        const parsed = registerVersionInputSchema.safeParse({ model: 'm', version: '1', artifact: { uri, sha256: 'a'.repeat(64) } });
        const controls = [...uri].some((c) => c.charCodeAt(0) < 0x20 || c === '\x7f');
        assert.equal(parsed.success, ['file', 's3', 'https'].includes(scheme) && !controls, uri);
        if (!parsed.success) assert.match(parsed.error.issues[0]?.message ?? '', /^artifact\.uri /);
      }),
    );
    for (const ok of ['models/fraud/v1/model.onnx', '/srv/models/a.onnx', 'C:\\models\\a.onnx', 's3://b/k', 'file:///srv/a.onnx', 'https://models.example.com/a.onnx']) {
      assert.equal(registerVersionInputSchema.safeParse({ model: 'm', version: '1', artifact: { uri: ok, sha256: 'a'.repeat(64) } }).success, true, ok);
    }
  });
});

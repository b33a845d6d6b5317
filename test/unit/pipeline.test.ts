import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PIPELINE,
  DEFAULT_PIPELINE_YAML,
  GATE_CONFIG_SCHEMAS,
  PipelineError,
  canonicalJson,
  knownGateTypes,
  parsePipeline,
  validatePipeline,
  type PipelineIssue,
} from '../../domain/pipeline';
import { parseDuration } from '../../domain/duration';

// The example from DESIGN.md, verbatim.
const DESIGN_EXAMPLE = `name: default
onFailure: rollback            # or: halt
stages:
  - env: dev
    gates:
      - type: metrics          # thresholds on the version's registered metrics
        require: { accuracy: ">= 0.90", latency_p99_ms: "<= 250" }
  - env: staging
    bake: 30s                  # watch health this long before moving on
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol], selfApproval: false, timeout: 72h }
    strategy: { canary: { steps: [10, 50, 100], interval: 1m } }
    freeze: [{ cron: "0 16 * * FRI", duration: 64h, timezone: UTC }]
`;

const FILE = 'pipelines/release.yaml';

// A valid one-stage pipeline with `stage` spliced in as the stage's extra lines.
function withStage(stageLines: string): string {
  return `name: p\nstages:\n  - env: dev\n${stageLines
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
}

function parseError(source: string): PipelineError {
  try {
    parsePipeline(source, FILE);
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the pipeline to be rejected');
}

// Asserts one issue names FILE, the exact path and a reason matching `reason`, and the message shows it as file: path: reason.
function assertIssue(err: PipelineError, path: string, reason: RegExp): PipelineIssue {
  const issue = err.issues.find((i) => i.path === path && reason.test(i.reason));
  assert.ok(issue, `no issue at ${path} matching ${reason}; got:\n${err.message}`);
  assert.equal(issue.file, FILE);
  assert.ok(err.message.includes(`${FILE}: ${path}: ${issue.reason}`), err.message);
  return issue;
}

describe('parsePipeline accepts valid pipelines', () => {
  it('parses the DESIGN.md example with every field as written and defaults filled in', () => {
    const p = parsePipeline(DESIGN_EXAMPLE, FILE);
    assert.equal(p.name, 'default');
    assert.equal(p.onFailure, 'rollback');
    assert.equal(p.concurrency, 'supersede');
    assert.deepEqual(
      p.stages.map((s) => s.env),
      ['dev', 'staging', 'prod'],
    );
    const [dev, staging, prod] = p.stages;
    assert.deepEqual(dev?.gates, [{ type: 'metrics', require: { accuracy: '>= 0.90', latency_p99_ms: '<= 250' } }]);
    assert.deepEqual(dev?.strategy, { direct: {} });
    assert.equal(staging?.bake, '30s');
    assert.deepEqual(prod?.approval, {
      required: 2,
      approvers: ['alice', 'bob', 'carol'],
      selfApproval: false,
      timeout: '72h',
      channels: ['api', 'cli', 'ui'],
    });
    assert.deepEqual(prod?.strategy, { canary: { steps: [10, 50, 100], interval: '1m' } });
    assert.deepEqual(prod?.freeze, [{ cron: '0 16 * * FRI', duration: '64h', timezone: 'UTC' }]);
  });

  it('fills defaults for onFailure, concurrency, approval and health checks', () => {
    const p = parsePipeline(withStage('approval: { required: 1, approvers: [alice] }\nhealthChecks: { maxErrorRate: 0.1 }'), FILE);
    assert.equal(p.onFailure, 'rollback');
    assert.equal(p.concurrency, 'supersede');
    assert.deepEqual(p.stages[0]?.approval, { required: 1, approvers: ['alice'], selfApproval: false, timeout: '72h', channels: ['api', 'cli', 'ui'] });
    assert.deepEqual(p.stages[0]?.healthChecks, { interval: '10s', maxErrorRate: 0.1 });
    assert.equal(p.stages[0]?.bake, undefined);
  });

  it('gives each parse its own default channel list, so changing one pipeline cannot change another', () => {
    const a = parsePipeline(withStage('approval: { required: 1, approvers: [alice] }'), FILE);
    a.stages[0]?.approval?.channels.push('api');
    const b = parsePipeline(withStage('approval: { required: 1, approvers: [alice] }'), FILE);
    assert.deepEqual(b.stages[0]?.approval?.channels, ['api', 'cli', 'ui']);
  });

  it('accepts halt and queue, and a metrics gate comparing against the live version', () => {
    const p = parsePipeline(
      `name: careful\nonFailure: halt\nconcurrency: queue\nstages:\n  - env: dev\n    gates:\n      - type: metrics\n        name: vs-live\n        noWorseThanLive: { accuracy: 0.01, latency_p99_ms: 20 }\n        higherIsBetter: { latency_p99_ms: false }\n`,
      FILE,
    );
    assert.equal(p.onFailure, 'halt');
    assert.equal(p.concurrency, 'queue');
    assert.deepEqual(p.stages[0]?.gates?.[0], {
      type: 'metrics',
      name: 'vs-live',
      noWorseThanLive: { accuracy: 0.01, latency_p99_ms: 20 },
      higherIsBetter: { latency_p99_ms: false },
    });
  });
});

describe('the built-in default pipeline', () => {
  it('is valid and equals its YAML parsed', () => {
    assert.deepEqual(parsePipeline(DEFAULT_PIPELINE_YAML, '<built-in>'), DEFAULT_PIPELINE);
    assert.equal(DEFAULT_PIPELINE.name, 'default');
  });

  it('gates dev on accuracy >= 0.8, bakes staging for 30s and needs one approval from alice, bob or carol in prod', () => {
    assert.deepEqual(
      DEFAULT_PIPELINE.stages.map((s) => s.env),
      ['dev', 'staging', 'prod'],
    );
    const [dev, staging, prod] = DEFAULT_PIPELINE.stages;
    const gate = dev?.gates?.[0];
    assert.equal(gate?.type, 'metrics');
    assert.deepEqual(gate?.require, { accuracy: '>= 0.8' });
    assert.equal(parseDuration(staging?.bake ?? ''), 30_000);
    assert.equal(prod?.approval?.required, 1);
    assert.deepEqual(prod?.approval?.approvers, ['alice', 'bob', 'carol']);
    assert.equal(prod?.approval?.timeout, '72h');
    assert.equal(prod?.approval?.selfApproval, false);
  });
});

describe('parsePipeline names file, path and reason for each mistake', () => {
  it('rejects an unknown key and suggests the intended one', () => {
    const err = parseError(withStage('aprovals: { required: 1, approvers: [alice] }'));
    assertIssue(err, 'stages[0].aprovals', /unknown key \(did you mean "approval"\?\).*allowed keys here: .*approval/);
  });

  it('rejects an unknown top-level key', () => {
    const err = parseError('name: p\nstage: []\nstages: [{ env: dev }]\n');
    assertIssue(err, 'stage', /did you mean "stages"/);
  });

  it('rejects a comparator that is not an operator followed by a number', () => {
    const err = parseError(withStage('gates:\n  - type: metrics\n    require: { accuracy: "=> 0.9" }'));
    assertIssue(err, 'stages[0].gates[0].require.accuracy', /invalid comparator "=> 0\.9".*>=/);
  });

  it('rejects an unquoted number where a comparator belongs', () => {
    const err = parseError(withStage('gates:\n  - type: metrics\n    require: { accuracy: 0.9 }'));
    assertIssue(err, 'stages[0].gates[0].require.accuracy', /quoted comparison such as ">= 0\.90"/);
  });

  it('rejects a metrics gate that checks nothing', () => {
    const err = parseError(withStage('gates:\n  - type: metrics\n    name: empty'));
    assertIssue(err, 'stages[0].gates[0]', /checks nothing/);
  });

  it('rejects a negative allowed drop and a higherIsBetter entry with no noWorseThanLive metric', () => {
    const err = parseError(withStage('gates:\n  - type: metrics\n    noWorseThanLive: { accuracy: -0.1 }\n  - type: metrics\n    require: { accuracy: ">= 0.9" }\n    higherIsBetter: { latency: false }'));
    assertIssue(err, 'stages[0].gates[0].noWorseThanLive.accuracy', />= 0/);
    assertIssue(err, 'stages[0].gates[1].higherIsBetter.latency', /only applies to metrics under noWorseThanLive/);
  });

  it('rejects more approvals required than approvers listed', () => {
    const err = parseError(withStage('approval: { required: 3, approvers: [alice, bob] }'));
    assertIssue(err, 'stages[0].approval.required', /asks for 3 approvals but only 2 approvers are listed/);
  });

  it('rejects an approver listed twice, ignoring case', () => {
    const err = parseError(withStage('approval: { required: 1, approvers: [alice, Alice] }'));
    assertIssue(err, 'stages[0].approval.approvers[1]', /listed twice/);
  });

  it('rejects an unknown approval channel', () => {
    const err = parseError(withStage('approval: { required: 1, approvers: [alice], channels: [api, email] }'));
    assertIssue(err, 'stages[0].approval.channels[1]', /api, cli, ui/);
  });

  it('rejects canary steps that do not strictly increase', () => {
    const err = parseError(withStage('strategy: { canary: { steps: [10, 50, 50, 100], interval: 1m } }'));
    assertIssue(err, 'stages[0].strategy.canary.steps[2]', /greater than the step before it \(50\)/);
  });

  it('rejects canary steps that do not end at 100', () => {
    const err = parseError(withStage('strategy: { canary: { steps: [10, 50], interval: 1m } }'));
    assertIssue(err, 'stages[0].strategy.canary.steps[1]', /last step must be 100/);
  });

  it('rejects a canary step outside 1..100', () => {
    const err = parseError(withStage('strategy: { canary: { steps: [0, 100, 150], interval: 1m } }'));
    assertIssue(err, 'stages[0].strategy.canary.steps[0]', /at least 1/);
    assertIssue(err, 'stages[0].strategy.canary.steps[2]', /at most 100/);
  });

  it('rejects a strategy naming both or neither of direct and canary', () => {
    assertIssue(parseError(withStage('strategy: {}')), 'stages[0].strategy', /names no strategy/);
    assertIssue(
      parseError(withStage('strategy: { direct: {}, canary: { steps: [100], interval: 1m } }')),
      'stages[0].strategy',
      /names two strategies/,
    );
  });

  it('rejects a bad duration and says the accepted format', () => {
    const err = parseError(withStage('bake: 30 minutes'));
    assertIssue(err, 'stages[0].bake', /invalid duration "30 minutes": expected a duration such as "500ms", "30s"/);
  });

  it('accepts minReports, onMissing and waitLimit on a bake and on canary analysis, and leaves them absent when not written', () => {
    const stage = parsePipeline(withStage('bake: 30s\nhealthChecks: { minReports: 3, onMissing: wait, waitLimit: 10m }\nstrategy: { canary: { steps: [50, 100], interval: 1m, analysis: { minReports: 2, onMissing: fail } } }'), FILE).stages[0]!;
    assert.deepEqual(stage.healthChecks, { interval: '10s', minReports: 3, onMissing: 'wait', waitLimit: '10m' });
    assert.ok('canary' in stage.strategy);
    assert.deepEqual(stage.strategy.canary.analysis, { minReports: 2, onMissing: 'fail' });
    assert.equal(parsePipeline(withStage('bake: 30s\nhealthChecks: { interval: 5s }'), FILE).stages[0]!.healthChecks?.minReports, undefined, 'no default is written into the pipeline (its hash stays the same)');
  });

  it('rejects a fractional or negative minReports, an unknown onMissing, and a waitLimit without onMissing: wait', () => {
    assertIssue(parseError(withStage('healthChecks: { minReports: 1.5 }')), 'stages[0].healthChecks.minReports', /whole number/);
    assertIssue(parseError(withStage('healthChecks: { minReports: -1 }')), 'stages[0].healthChecks.minReports', /at least 0/);
    assertIssue(parseError(withStage('healthChecks: { onMissing: pass }')), 'stages[0].healthChecks.onMissing', /"fail".*"wait"/);
    assertIssue(parseError(withStage('healthChecks: { waitLimit: 5m }')), 'stages[0].healthChecks.waitLimit', /only with onMissing: wait/);
    assertIssue(
      parseError(withStage('strategy: { canary: { steps: [100], interval: 1m, analysis: { onMissing: fail, waitLimit: 5m } } }')),
      'stages[0].strategy.canary.analysis.waitLimit',
      /only with onMissing: wait/,
    );
  });

  it('rejects a bake longer than 7 days', () => {
    assertIssue(parseError(withStage('bake: 8d')), 'stages[0].bake', /at most 7d/);
  });

  it('rejects a duration given as a bare number', () => {
    assertIssue(parseError(withStage('approval: { required: 1, approvers: [alice], timeout: 3600 }')), 'stages[0].approval.timeout', /must be a duration such as/);
  });

  it('rejects the same env in two stages', () => {
    const err = parseError('name: p\nstages:\n  - env: dev\n  - env: prod\n  - env: dev\n');
    assertIssue(err, 'stages[2].env', /"dev" is the env of another stage.*\[0\]/);
  });

  it('reports a duplicate env together with other mistakes in the same file', () => {
    const err = parseError('name: p\nstages:\n  - env: dev\n    bake: soon\n  - env: dev\n');
    assertIssue(err, 'stages[0].bake', /invalid duration/);
    assertIssue(err, 'stages[1].env', /env of another stage/);
  });

  it('rejects two gates with the same name in one stage', () => {
    const err = parseError(withStage('gates:\n  - { type: metrics, name: q, require: { a: "> 0" } }\n  - { type: metrics, name: q, require: { b: "> 0" } }'));
    assertIssue(err, 'stages[0].gates[1].name', /name of another gate/);
  });

  it('rejects an unknown gate type and lists the known ones', () => {
    const err = parseError(withStage('gates:\n  - type: evalz'));
    const issue = assertIssue(err, 'stages[0].gates[0].type', /unknown gate type "evalz"/);
    for (const type of knownGateTypes()) assert.ok(issue.reason.includes(type), issue.reason);
  });

  it('rejects a gate type that is an Object.prototype property name', () => {
    assertIssue(parseError(withStage('gates:\n  - type: constructor')), 'stages[0].gates[0].type', /unknown gate type "constructor"/);
  });

  it('rejects a gate without a type', () => {
    assertIssue(parseError(withStage('gates:\n  - name: q')), 'stages[0].gates[0].type', /is missing.*metrics/);
  });

  it('rejects an unknown key inside a gate at the key path', () => {
    assertIssue(parseError(withStage('gates:\n  - { type: metrics, requires: { a: "> 0" } }')), 'stages[0].gates[0].requires', /did you mean "require"/);
  });

  it('rejects a bad cron, a cron without 5 fields and an unknown timezone', () => {
    const err = parseError(withStage('freeze:\n  - { cron: "99 16 * * FRI", duration: 1h }\n  - { cron: "0 16 * *", duration: 1h }\n  - { cron: "0 16 * * FRI", duration: 1h, timezone: Mars/Olympus }'));
    assertIssue(err, 'stages[0].freeze[0].cron', /invalid/);
    assertIssue(err, 'stages[0].freeze[1].cron', /5 fields/);
    assertIssue(err, 'stages[0].freeze[2].timezone', /not a known IANA time zone/);
  });

  it('accepts deploy target and health source names, and rejects malformed ones', () => {
    const p = parsePipeline(withStage('target: k8s-canary\nhealthSource: prometheus'), FILE);
    assert.equal(p.stages[0]?.target, 'k8s-canary');
    assert.equal(p.stages[0]?.healthSource, 'prometheus');
    const err = parseError(withStage('target: "not a name"\nhealthSource: 5'));
    assertIssue(err, 'stages[0].target', /name of a deploy target/);
    assertIssue(err, 'stages[0].healthSource', /name of a health source/);
  });

  it('rejects bad names and enum values', () => {
    const err = parseError('name: "bad name!"\nonFailure: explode\nconcurrency: parallel\nstages:\n  - env: Prod\n');
    assertIssue(err, 'name', /letters, digits/);
    assertIssue(err, 'onFailure', /"rollback" or "halt"/);
    assertIssue(err, 'concurrency', /"supersede" or "queue"/);
    assertIssue(err, 'stages[0].env', /lowercase/);
  });

  it('rejects a pipeline without stages', () => {
    assertIssue(parseError('name: p\nstages: []\n'), 'stages', /at least one stage/);
    assertIssue(parseError('name: p\n'), 'stages', /list of stages/);
  });

  it('reports a YAML syntax error with its line and column', () => {
    const err = parseError('name: p\nstages:\n  - env: [dev\n');
    const issue = err.issues[0];
    assert.ok(issue);
    assert.equal(issue.file, FILE);
    assert.match(issue.path, /^line \d+, column \d+$/);
    assert.match(issue.reason, /^YAML syntax: /);
    assert.ok(err.message.startsWith(`${FILE}: line `), err.message);
  });

  it('reports a key given twice as a YAML error', () => {
    assertIssue(parseError('name: a\nname: b\nstages: [{ env: dev }]\n'), 'line 2, column 1', /unique/);
  });

  it('lists every issue in the error message, one per line', () => {
    const err = parseError('name: p\nonFailure: explode\nstages:\n  - env: dev\n    bake: soon\n');
    assert.equal(err.issues.length, 2);
    assert.equal(err.message.split('\n').length, 2);
    assert.equal(err.name, 'PipelineError');
  });
});

describe('parsePipeline survives hostile input', () => {
  const cases: [string, () => string][] = [
    ['10k-deep flow nesting', () => `name: p\nstages: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`],
    ['10k-deep block nesting', () => `name: p\nstages:\n${Array.from({ length: 10_000 }, (_, i) => `${' '.repeat(i)}- `).join('\n')}x\n`],
    ['a 5 MB string', () => `name: "${'a'.repeat(5 * 1024 * 1024)}"\nstages: [{ env: dev }]\n`],
    ['a document that is a scalar', () => 'just text\n'],
    ['a document that is a list', () => '- env: dev\n- env: prod\n'],
    ['an empty document', () => ''],
    ['a document of only comments', () => '# nothing here\n'],
    ['two documents', () => 'name: a\nstages: [{ env: dev }]\n---\nname: b\n'],
    ['a top-level __proto__ key', () => '__proto__: { polluted: true }\nname: p\nstages: [{ env: dev }]\n'],
    ['a __proto__ metric name', () => withStage('gates:\n  - type: metrics\n    require: { __proto__: ">= 1", accuracy: ">= 0.5" }')],
    ['an alias bomb', () => `a: &a [x, x, x, x, x, x, x, x, x, x]\n${['b', 'c', 'd', 'e', 'f'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\nname: p\nstages: [{ env: dev }]\n`],
    ['an unknown YAML tag', () => 'name: !!js/function "x"\nstages: [{ env: dev }]\n'],
    ['a 100k-element list', () => `name: p\nstages: [${Array(100_000).fill('1').join(',')}]\n`],
  ];
  for (const [label, build] of cases) {
    it(`turns ${label} into a PipelineError`, () => {
      const err = parseError(build());
      assert.ok(err.issues.length > 0);
      for (const issue of err.issues) {
        assert.equal(issue.file, FILE);
        assert.ok(issue.path.length > 0);
        assert.ok(issue.reason.length > 0 && issue.reason.length < 2_000, `reason too long: ${issue.reason.length}`);
      }
      assert.ok(err.message.length < 20_000, `message too long: ${err.message.length}`);
    });
  }

  it('leaves Object.prototype untouched by a __proto__ key', () => {
    parseError('__proto__: { polluted: true }\nname: p\nstages: [{ env: dev }]\n');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('names the __proto__ key in the error path', () => {
    assertIssue(parseError(withStage('gates:\n  - type: metrics\n    require: { __proto__: ">= 1" }')), 'stages[0].gates[0].require.__proto__', /not allowed/);
  });

  it('rejects source that is not a string', () => {
    assert.throws(() => parsePipeline(Buffer.from('name: p') as unknown as string, FILE), PipelineError);
  });
});

describe('validatePipeline checks already-parsed values', () => {
  it('accepts a plain object and fills defaults', () => {
    const p = validatePipeline({ name: 'api', stages: [{ env: 'dev' }] }, 'request body');
    assert.equal(p.onFailure, 'rollback');
    assert.deepEqual(p.stages[0]?.strategy, { direct: {} });
  });

  it('rejects an own __proto__ key from JSON.parse instead of silently dropping it', () => {
    const value: unknown = JSON.parse('{"name":"p","stages":[{"env":"dev","gates":[{"type":"metrics","require":{"__proto__":">= 1","a":"> 0"}}]}]}');
    assert.throws(() => validatePipeline(value, 'body.json'), (err: unknown) => err instanceof PipelineError && /__proto__/.test(err.message));
  });

  it('rejects 10k-deep object nesting without overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    assert.throws(() => validatePipeline({ name: 'p', stages: [{ env: 'dev', x: deep }] }, 'deep.json'), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /nested more than \d+ levels deep/);
      return true;
    });
  });

  it('rejects a value that contains itself', () => {
    const stage: Record<string, unknown> = { env: 'dev' };
    stage['self'] = stage;
    assert.throws(() => validatePipeline({ name: 'p', stages: [stage] }, 'cycle'), PipelineError);
  });

  it('turns a getter that throws into a PipelineError', () => {
    const hostile = { name: 'p', get stages(): unknown { throw new Error('boom'); } };
    assert.throws(() => validatePipeline(hostile, 'getter'), (err: unknown) => err instanceof PipelineError && /boom/.test(err.message));
  });

  for (const value of [null, undefined, 42, 'text', ['a'], true]) {
    it(`rejects the non-mapping ${JSON.stringify(value) ?? 'undefined'} at the root`, () => {
      assert.throws(() => validatePipeline(value, 'v'), (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.deepEqual(err.issues.map((i) => i.path), ['<root>']);
        assert.match(err.message, /^v: <root>: a pipeline must be a mapping/);
        return true;
      });
    });
  }
});

describe('GATE_CONFIG_SCHEMAS', () => {
  it('registers each schema under the type name it accepts', () => {
    for (const [type, schema] of Object.entries(GATE_CONFIG_SCHEMAS)) {
      const result = schema.safeParse({ type });
      const typeIssues = result.success ? [] : result.error.issues.filter((i) => i.path[0] === 'type');
      assert.deepEqual(typeIssues, [], `schema registered as ${type} rejects type ${type}`);
    }
  });

  it('lists metrics among the known gate types', () => {
    assert.ok(knownGateTypes().includes('metrics'));
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every depth so key order does not change the text', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[2,{"y":2,"z":1}]},"b":1}');
    assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
  });

  it('follows JSON rules for undefined, non-finite numbers and toJSON', () => {
    assert.equal(canonicalJson({ u: undefined, n: Number.NaN, a: [undefined], d: new Date(0) }), '{"a":[null],"d":"1970-01-01T00:00:00.000Z","n":null}');
  });

  it('gives the same text for a pipeline parsed from differently ordered YAML', () => {
    const a = parsePipeline('name: p\nstages: [{ env: dev, bake: 1m }]\nonFailure: halt\n', FILE);
    const b = parsePipeline('onFailure: halt\nstages: [{ bake: 1m, env: dev }]\nname: p\n', FILE);
    assert.equal(canonicalJson(a), canonicalJson(b));
  });

  it('keeps a __proto__ key as data', () => {
    assert.equal(canonicalJson(JSON.parse('{"__proto__":1}')), '{"__proto__":1}');
  });

  it('rejects cycles and bigints', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(() => canonicalJson(cyclic), /contains itself/);
    assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { a: 1 };
    assert.equal(canonicalJson([shared, shared]), '[{"a":1},{"a":1}]');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canarySchedule, validateCanarySteps } from '../../domain/canary';

describe('validateCanarySteps', () => {
  it('accepts increasing steps that end at 100', () => {
    assert.equal(validateCanarySteps([10, 50, 100]), null);
    assert.equal(validateCanarySteps([100]), null);
    assert.equal(validateCanarySteps([1, 2, 100]), null);
  });

  it('rejects an empty list', () => {
    assert.match(validateCanarySteps([]) ?? '', /non-empty/);
  });

  it('rejects steps that do not strictly increase', () => {
    assert.match(validateCanarySteps([10, 10, 100]) ?? '', /step 2 \(10\) must be greater than the step before it \(10\)/);
    assert.match(validateCanarySteps([50, 10, 100]) ?? '', /step 2/);
  });

  it('rejects a list whose last step is not 100', () => {
    assert.match(validateCanarySteps([10, 50]) ?? '', /last canary step must be 100; got 50|last canary step must be 100 .*got 50/);
  });

  it('rejects weights outside 1..100 and fractions', () => {
    assert.match(validateCanarySteps([0, 100]) ?? '', /step 1 is 0/);
    assert.match(validateCanarySteps([10, 101]) ?? '', /step 2 is 101/);
    assert.match(validateCanarySteps([12.5, 100]) ?? '', /whole percentage/);
    assert.match(validateCanarySteps([Number.NaN, 100]) ?? '', /step 1/);
  });
});

describe('canarySchedule', () => {
  it('numbers each step and analyses it one interval after its weight is set', () => {
    assert.deepEqual(canarySchedule([10, 50, 100], 60_000), [
      { step: 1, weight: 10, analyseAfterMs: 60_000 },
      { step: 2, weight: 50, analyseAfterMs: 60_000 },
      { step: 3, weight: 100, analyseAfterMs: 60_000 },
    ]);
  });

  it('throws on invalid steps or a negative interval', () => {
    assert.throws(() => canarySchedule([10, 50], 1000), /last canary step must be 100/);
    assert.throws(() => canarySchedule([10, 100], -1), /canary interval/);
  });
});

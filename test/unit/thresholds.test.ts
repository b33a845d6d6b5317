import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkNoWorseThan, checkThreshold, parseComparator } from '../../domain/thresholds';

describe('parseComparator', () => {
  it('reads each operator with or without spaces', () => {
    assert.deepEqual(parseComparator('>= 0.90'), { op: '>=', value: 0.9 });
    assert.deepEqual(parseComparator('<=250'), { op: '<=', value: 250 });
    assert.deepEqual(parseComparator('> 0'), { op: '>', value: 0 });
    assert.deepEqual(parseComparator('< -1.5'), { op: '<', value: -1.5 });
    assert.deepEqual(parseComparator('== 1'), { op: '==', value: 1 });
    assert.deepEqual(parseComparator('  != 3e2 '), { op: '!=', value: 300 });
    assert.deepEqual(parseComparator('>=.5'), { op: '>=', value: 0.5 });
  });

  for (const bad of ['', '0.9', '>=', '=> 0.9', '= 1', '>= abc', '>= 0.9 ms', '>= 1,5', '>= Infinity', '>= NaN', '>>= 1']) {
    it(`rejects ${JSON.stringify(bad)} naming the accepted forms`, () => {
      assert.throws(() => parseComparator(bad), (err: Error) => {
        assert.match(err.message, /invalid comparator/);
        assert.match(err.message, />=, <=, >, <, ==, !=/);
        return true;
      });
    });
  }
});

describe('checkThreshold', () => {
  it('passes a metric that meets its threshold and reports the value', () => {
    const check = checkThreshold('accuracy', 0.93, '>= 0.90');
    assert.deepEqual(
      { metric: check.metric, value: check.value, threshold: check.threshold, passed: check.passed },
      { metric: 'accuracy', value: 0.93, threshold: '>= 0.90', passed: true },
    );
    assert.match(check.reason, /accuracy = 0.93 satisfies >= 0.90/);
  });

  it('passes a metric exactly on an inclusive bound', () => {
    assert.equal(checkThreshold('accuracy', 0.9, '>= 0.90').passed, true);
    assert.equal(checkThreshold('latency_p99_ms', 250, '<= 250').passed, true);
  });

  it('fails a metric exactly on an exclusive bound', () => {
    assert.equal(checkThreshold('errors', 0, '> 0').passed, false);
    assert.equal(checkThreshold('latency', 250, '< 250').passed, false);
  });

  it('fails a metric that misses its threshold and says why', () => {
    const check = checkThreshold('latency_p99_ms', 310, '<= 250');
    assert.equal(check.passed, false);
    assert.equal(check.value, 310);
    assert.match(check.reason, /latency_p99_ms = 310 does not satisfy <= 250/);
  });

  it('evaluates == and != exactly', () => {
    assert.equal(checkThreshold('suite_passed', 1, '== 1').passed, true);
    assert.equal(checkThreshold('suite_passed', 0, '== 1').passed, false);
    assert.equal(checkThreshold('bias_flags', 0, '!= 1').passed, true);
    assert.equal(checkThreshold('bias_flags', 1, '!= 1').passed, false);
  });

  it('fails a metric that is not registered on the version', () => {
    const check = checkThreshold('f1', undefined, '>= 0.8');
    assert.equal(check.passed, false);
    assert.equal(check.value, null);
    assert.equal(check.reason, 'metric f1 is not registered on this version');
  });

  it('fails a metric whose value is NaN rather than comparing it', () => {
    const check = checkThreshold('f1', Number.NaN, '!= 0');
    assert.equal(check.passed, false);
    assert.equal(check.value, null);
    assert.match(check.reason, /not a finite number/);
  });

  it('throws on a malformed comparator instead of failing the gate', () => {
    assert.throws(() => checkThreshold('accuracy', 0.9, 'at least 0.9'), /invalid comparator/);
  });
});

describe('checkNoWorseThan', () => {
  it('passes a higher-is-better metric that improved on live', () => {
    const check = checkNoWorseThan('accuracy', 0.95, 0.92, 0.01, true);
    assert.equal(check.passed, true);
    assert.equal(check.value, 0.95);
    assert.match(check.reason, /no worse than live 0.92/);
  });

  it('passes a higher-is-better metric that dropped by exactly the allowed amount', () => {
    // 0.92 - 0.90 is 0.020000000000000018 in binary floating point.
    const check = checkNoWorseThan('accuracy', 0.9, 0.92, 0.02, true);
    assert.equal(check.passed, true, check.reason);
    assert.match(check.threshold, /^>= 0.9 \(live 0.92 - 0.02/);
  });

  it('fails a higher-is-better metric that dropped more than allowed', () => {
    const check = checkNoWorseThan('accuracy', 0.89, 0.92, 0.02, true);
    assert.equal(check.passed, false);
    assert.match(check.reason, /0.03 worse than live 0.92, more than the allowed 0.02 \(higher is better\)/);
  });

  it('passes a lower-is-better metric that went down', () => {
    assert.equal(checkNoWorseThan('latency_p99_ms', 180, 200, 0, false).passed, true);
  });

  it('passes a lower-is-better metric that rose within the allowed amount', () => {
    const check = checkNoWorseThan('latency_p99_ms', 210, 200, 10, false);
    assert.equal(check.passed, true);
    assert.match(check.threshold, /^<= 210 /);
  });

  it('fails a lower-is-better metric that rose more than allowed', () => {
    const check = checkNoWorseThan('latency_p99_ms', 215, 200, 10, false);
    assert.equal(check.passed, false);
    assert.match(check.reason, /15 worse than live 200, more than the allowed 10 \(lower is better\)/);
  });

  it('treats the same rise as an improvement when higher is better', () => {
    assert.equal(checkNoWorseThan('accuracy', 0.99, 0.9, 0, true).passed, true);
    assert.equal(checkNoWorseThan('accuracy', 0.99, 0.9, 0, false).passed, false);
  });

  it('passes when no live version has the metric, saying there is nothing to compare against', () => {
    const check = checkNoWorseThan('accuracy', 0.5, undefined, 0.01, true);
    assert.equal(check.passed, true);
    assert.equal(check.value, 0.5);
    assert.match(check.reason, /nothing to compare against/);
  });

  it('fails when the candidate lacks the metric even if live has it', () => {
    const check = checkNoWorseThan('accuracy', undefined, 0.92, 0.01, true);
    assert.equal(check.passed, false);
    assert.equal(check.reason, 'metric accuracy is not registered on this version');
  });

  it('throws on a negative or non-finite maxDrop', () => {
    assert.throws(() => checkNoWorseThan('accuracy', 0.9, 0.9, -0.1, true), /invalid maxDrop/);
    assert.throws(() => checkNoWorseThan('accuracy', 0.9, 0.9, Number.NaN, true), /invalid maxDrop/);
  });
});

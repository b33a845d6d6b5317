import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_FORMAT, formatDuration, parseDuration } from '../../domain/duration';

describe('parseDuration', () => {
  it('reads each unit in milliseconds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('72h'), 72 * 3_600_000);
    assert.equal(parseDuration('2d'), 2 * 86_400_000);
  });

  it('adds up compound durations written largest unit first', () => {
    assert.equal(parseDuration('1h30m'), 90 * 60_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000 + 5);
  });

  it('accepts zero', () => {
    assert.equal(parseDuration('0s'), 0);
  });

  for (const [label, text] of [
    ['empty text', ''],
    ['a negative duration', '-5s'],
    ['an unknown unit', '5w'],
    ['a number without a unit', '30'],
    ['a unit without a number', 'h'],
    ['spaces inside', '1h 30m'],
    ['a fraction', '1.5h'],
    ['units smallest first', '30m1h'],
    ['a repeated unit', '1m1m'],
    ['trailing garbage', '30sx'],
    ['text too long to be a duration', '1'.repeat(100) + 's'],
    ['a duration beyond safe integers', '99999999999999999999d'],
  ] as const) {
    it(`rejects ${label} with a message naming the accepted format`, () => {
      assert.throws(() => parseDuration(text), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /500ms/);
        assert.ok(err.message.includes(DURATION_FORMAT), err.message);
        return true;
      });
    });
  }

  for (const value of [30, null, undefined, { h: 1 }, ['1h']]) {
    it(`rejects the non-string ${JSON.stringify(value) ?? 'undefined'} with a message naming the accepted format`, () => {
      assert.throws(() => parseDuration(value as unknown as string), /expected a duration such as/);
    });
  }

  it('can be called again after a failure (no state left behind)', () => {
    assert.throws(() => parseDuration('1hx'));
    assert.equal(parseDuration('2m'), 120_000);
  });
});

describe('formatDuration', () => {
  it('writes the largest units first and skips empty ones', () => {
    assert.equal(formatDuration(90 * 60_000), '1h30m');
    assert.equal(formatDuration(86_400_000 + 500), '1d500ms');
    assert.equal(formatDuration(500), '500ms');
  });

  it('writes zero as 0s', () => {
    assert.equal(formatDuration(0), '0s');
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 999, 1_000, 59_999, 3_600_000, 5_400_000, 7 * 86_400_000 + 1, 123_456_789]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });

  it('rejects negative and non-finite values', () => {
    assert.throws(() => formatDuration(-1), /finite number of milliseconds >= 0/);
    assert.throws(() => formatDuration(Number.NaN), /finite number/);
    assert.throws(() => formatDuration(Number.POSITIVE_INFINITY), /finite number/);
  });
});

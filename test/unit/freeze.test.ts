import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activeFreeze, parseFreezeDuration, validateFreezeWindow, type FreezeWindow } from '../../domain/freeze';

// 2025-01-03 is a Friday.
const weekendUtc: FreezeWindow = { cron: '0 16 * * FRI', duration: '64h', timezone: 'UTC' };
const weekendNewYork: FreezeWindow = { cron: '0 16 * * FRI', duration: '64h', timezone: 'America/New_York' };

function frozenUntil(windows: FreezeWindow[], iso: string): string | false {
  const decision = activeFreeze(windows, new Date(iso));
  return decision.frozen ? decision.until.toISOString() : false;
}

describe('activeFreeze', () => {
  it('freezes Friday 17:00 UTC until Monday 08:00 UTC for a 64h window opening Friday 16:00', () => {
    const decision = activeFreeze([weekendUtc], new Date('2025-01-03T17:00:00Z'));
    assert.equal(decision.frozen, true);
    if (!decision.frozen) return;
    assert.equal(decision.until.toISOString(), '2025-01-06T08:00:00.000Z');
    assert.equal(decision.window, weekendUtc);
    assert.match(decision.reason, /"0 16 \* \* FRI" \(UTC, 64h\) opened at 2025-01-03T16:00:00.000Z; deploys resume at 2025-01-06T08:00:00.000Z/);
  });

  it('does not freeze on Thursday', () => {
    assert.deepEqual(activeFreeze([weekendUtc], new Date('2025-01-02T17:00:00Z')), { frozen: false });
  });

  it('freezes from the exact fire time and releases at the exact end', () => {
    assert.equal(frozenUntil([weekendUtc], '2025-01-03T15:59:59.999Z'), false);
    assert.equal(frozenUntil([weekendUtc], '2025-01-03T16:00:00.000Z'), '2025-01-06T08:00:00.000Z');
    assert.equal(frozenUntil([weekendUtc], '2025-01-06T07:59:59.999Z'), '2025-01-06T08:00:00.000Z');
    assert.equal(frozenUntil([weekendUtc], '2025-01-06T08:00:00.000Z'), false);
  });

  it('treats a window without a timezone as UTC', () => {
    assert.equal(frozenUntil([{ cron: '0 16 * * FRI', duration: '64h' }], '2025-01-03T16:30:00Z'), '2025-01-06T08:00:00.000Z');
  });

  it('opens a New York window at 16:00 local time, 21:00 UTC in winter', () => {
    assert.equal(frozenUntil([weekendNewYork], '2025-01-03T17:00:00Z'), false);
    assert.equal(frozenUntil([weekendNewYork], '2025-01-03T20:59:59Z'), false);
    assert.equal(frozenUntil([weekendNewYork], '2025-01-03T21:00:00Z'), '2025-01-06T13:00:00.000Z');
  });

  it('opens a New York window at 16:00 local time, 20:00 UTC in summer', () => {
    // 2025-07-04 is a Friday, during daylight saving time.
    assert.equal(frozenUntil([weekendNewYork], '2025-07-04T19:59:59Z'), false);
    assert.equal(frozenUntil([weekendNewYork], '2025-07-04T20:00:00Z'), '2025-07-07T12:00:00.000Z');
  });

  it('lasts 64 elapsed hours across the spring-forward change (ends 09:00 local, not 08:00)', () => {
    // Opens Fri 2025-03-07 16:00 EST (21:00Z); clocks go forward Sun 2025-03-09.
    assert.equal(frozenUntil([weekendNewYork], '2025-03-10T12:30:00Z'), '2025-03-10T13:00:00.000Z');
    assert.equal(frozenUntil([weekendNewYork], '2025-03-10T13:00:00Z'), false);
  });

  it('lasts 64 elapsed hours across the fall-back change (ends 07:00 local)', () => {
    // Opens Fri 2025-10-31 16:00 EDT (20:00Z); clocks go back Sun 2025-11-02.
    assert.equal(frozenUntil([weekendNewYork], '2025-10-31T20:00:00Z'), '2025-11-03T12:00:00.000Z');
  });

  it('ends a Berlin 64h weekend freeze across the spring-forward change at Monday 09:00 CEST (07:00 UTC)', () => {
    // Opens Fri 2025-03-28 16:00 CET (15:00Z); clocks go from 02:00 CET to 03:00 CEST on Sun 2025-03-30 (01:00Z).
    const berlin: FreezeWindow = { cron: '0 16 * * FRI', duration: '64h', timezone: 'Europe/Berlin' };
    assert.equal(frozenUntil([berlin], '2025-03-28T14:59:59.999Z'), false);
    assert.equal(frozenUntil([berlin], '2025-03-28T15:00:00.000Z'), '2025-03-31T07:00:00.000Z');
    assert.equal(frozenUntil([berlin], '2025-03-30T01:30:00.000Z'), '2025-03-31T07:00:00.000Z');
    assert.equal(frozenUntil([berlin], '2025-03-31T06:59:59.999Z'), '2025-03-31T07:00:00.000Z');
    assert.equal(frozenUntil([berlin], '2025-03-31T07:00:00.000Z'), false);
  });

  it('ends a Berlin 64h weekend freeze across the fall-back change at Monday 07:00 CET (06:00 UTC)', () => {
    // Opens Fri 2025-10-24 16:00 CEST (14:00Z); clocks go from 03:00 CEST back to 02:00 CET on Sun 2025-10-26 (01:00Z).
    const berlin: FreezeWindow = { cron: '0 16 * * FRI', duration: '64h', timezone: 'Europe/Berlin' };
    assert.equal(frozenUntil([berlin], '2025-10-24T13:59:59.999Z'), false);
    assert.equal(frozenUntil([berlin], '2025-10-24T14:00:00.000Z'), '2025-10-27T06:00:00.000Z');
    assert.equal(frozenUntil([berlin], '2025-10-26T01:30:00.000Z'), '2025-10-27T06:00:00.000Z');
    assert.equal(frozenUntil([berlin], '2025-10-27T06:00:00.000Z'), false);
    // The next Friday is in winter time: 16:00 CET is 15:00Z.
    assert.equal(frozenUntil([berlin], '2025-10-31T14:59:59.999Z'), false);
    assert.equal(frozenUntil([berlin], '2025-10-31T15:00:00.000Z'), '2025-11-03T07:00:00.000Z');
  });

  it('opens a window set for 02:30 local on the spring-forward day at 03:30 CEST (01:30 UTC) rather than skipping it', () => {
    // 02:30 does not exist in Berlin on Sun 2025-03-30; read with the offset before the change (CET) it is 01:30Z.
    const night: FreezeWindow = { cron: '30 2 * * SUN', duration: '1h', timezone: 'Europe/Berlin' };
    assert.equal(frozenUntil([night], '2025-03-30T01:29:59.999Z'), false);
    assert.equal(frozenUntil([night], '2025-03-30T01:30:00.000Z'), '2025-03-30T02:30:00.000Z');
    assert.equal(frozenUntil([night], '2025-03-30T02:00:00.000Z'), '2025-03-30T02:30:00.000Z');
    assert.equal(frozenUntil([night], '2025-03-30T02:30:00.000Z'), false);
    const decision = activeFreeze([night], new Date('2025-03-30T02:00:00Z'));
    assert.ok(decision.frozen);
    assert.match(decision.reason, /opened at 2025-03-30T01:30:00.000Z/);
    // The Sundays around it open at 02:30 local as usual: 01:30Z in winter, 00:30Z in summer.
    assert.equal(frozenUntil([night], '2025-03-23T01:30:00.000Z'), '2025-03-23T02:30:00.000Z');
    assert.equal(frozenUntil([night], '2025-04-06T00:30:00.000Z'), '2025-04-06T01:30:00.000Z');
    assert.equal(frozenUntil([night], '2025-04-06T01:30:00.000Z'), false);
  });

  it('opens a window set for 02:30 local on the fall-back day at its first 02:30 (00:30 UTC)', () => {
    // 02:30 happens twice in Berlin on Sun 2025-10-26: 00:30Z (CEST) and 01:30Z (CET).
    const night: FreezeWindow = { cron: '30 2 * * SUN', duration: '30m', timezone: 'Europe/Berlin' };
    assert.equal(frozenUntil([night], '2025-10-26T00:29:59.999Z'), false);
    assert.equal(frozenUntil([night], '2025-10-26T00:30:00.000Z'), '2025-10-26T01:00:00.000Z');
  });

  it('is not frozen with no windows', () => {
    assert.deepEqual(activeFreeze([], new Date('2025-01-03T17:00:00Z')), { frozen: false });
  });

  it('extends until through a window that the first one ends inside', () => {
    const mondayMorning: FreezeWindow = { cron: '0 6 * * MON', duration: '4h', timezone: 'UTC' };
    const decision = activeFreeze([weekendUtc, mondayMorning], new Date('2025-01-03T17:00:00Z'));
    assert.equal(decision.frozen, true);
    if (!decision.frozen) return;
    assert.equal(decision.until.toISOString(), '2025-01-06T10:00:00.000Z');
    assert.equal(decision.window, weekendUtc);
    assert.match(decision.reason, /extended by overlapping freeze windows/);
  });

  it('merges a window that opens exactly when the previous one ends', () => {
    const backToBack: FreezeWindow = { cron: '0 8 * * MON', duration: '2h', timezone: 'UTC' };
    assert.equal(frozenUntil([weekendUtc, backToBack], '2025-01-04T00:00:00Z'), '2025-01-06T10:00:00.000Z');
  });

  it('does not extend through a window that opens after a gap', () => {
    const later: FreezeWindow = { cron: '1 8 * * MON', duration: '2h', timezone: 'UTC' };
    assert.equal(frozenUntil([weekendUtc, later], '2025-01-04T00:00:00Z'), '2025-01-06T08:00:00.000Z');
  });

  it('reports the latest end among windows open at the same time', () => {
    const shortOne: FreezeWindow = { cron: '0 15 * * FRI', duration: '2h', timezone: 'UTC' };
    const decision = activeFreeze([shortOne, weekendUtc], new Date('2025-01-03T16:30:00Z'));
    assert.equal(decision.frozen, true);
    if (!decision.frozen) return;
    assert.equal(decision.until.toISOString(), '2025-01-06T08:00:00.000Z');
    assert.equal(decision.window, weekendUtc);
  });

  it('uses the most recent opening when a window lasts longer than its cron interval', () => {
    // Opens Mon and Tue at 00:00 for 36h: at Tue 06:00 both are open; Tue's ends last (Wed 12:00).
    const twoDays: FreezeWindow = { cron: '0 0 * * MON,TUE', duration: '36h' };
    assert.equal(frozenUntil([twoDays], '2025-01-07T06:00:00Z'), '2025-01-08T12:00:00.000Z');
  });

  it('returns a finite until for windows that never leave a gap', () => {
    const always: FreezeWindow = { cron: '0 * * * *', duration: '2h' };
    const now = new Date('2025-01-03T17:30:00Z');
    const decision = activeFreeze([always], now);
    assert.equal(decision.frozen, true);
    if (decision.frozen) assert.ok(decision.until.getTime() > now.getTime());
  });

  it('accepts a duration given in milliseconds', () => {
    assert.equal(frozenUntil([{ cron: '0 16 * * FRI', duration: 3_600_000 }], '2025-01-03T16:59:59Z'), '2025-01-03T17:00:00.000Z');
  });

  it('throws on an invalid window, naming the problem', () => {
    assert.throws(() => activeFreeze([{ cron: '0 25 * * *', duration: '1h' }], new Date('2025-01-03T17:00:00Z')), /cron "0 25 \* \* \*" is invalid/);
  });

  it('gives the same answer for the same inputs, with no hidden clock or randomness', () => {
    const hashed: FreezeWindow = { cron: 'H 16 * * FRI', duration: '64h' };
    const a = activeFreeze([hashed], new Date('2025-01-03T17:30:00Z'));
    const b = activeFreeze([hashed], new Date('2025-01-03T17:30:00Z'));
    assert.deepEqual(a, b);
  });
});

describe('validateFreezeWindow', () => {
  it('accepts a valid window', () => {
    assert.equal(validateFreezeWindow(weekendNewYork), null);
    assert.equal(validateFreezeWindow({ cron: '0 16 * * FRI', duration: 1000 }), null);
  });

  it('rejects a bad cron expression', () => {
    assert.match(validateFreezeWindow({ cron: '0 16 * * FRIDAYS', duration: '64h' }) ?? '', /cron "0 16 \* \* FRIDAYS" is invalid/);
    assert.match(validateFreezeWindow({ cron: '61 16 * * *', duration: '64h' }) ?? '', /cron "61 16 \* \* \*" is invalid/);
  });

  it('rejects an empty cron expression', () => {
    assert.match(validateFreezeWindow({ cron: '  ', duration: '64h' }) ?? '', /cron is missing/);
  });

  it('rejects an unknown timezone', () => {
    assert.match(validateFreezeWindow({ cron: '0 16 * * FRI', duration: '64h', timezone: 'Mars/Olympus' }) ?? '', /timezone "Mars\/Olympus" is not a known IANA time zone/);
  });

  it('rejects a bad duration', () => {
    assert.match(validateFreezeWindow({ cron: '0 16 * * FRI', duration: '64 hours' }) ?? '', /invalid freeze duration/);
    assert.match(validateFreezeWindow({ cron: '0 16 * * FRI', duration: 0 }) ?? '', /longer than zero/);
  });
});

describe('parseFreezeDuration', () => {
  it('reads simple and compound durations', () => {
    assert.equal(parseFreezeDuration('64h'), 64 * 3_600_000);
    assert.equal(parseFreezeDuration('30m'), 1_800_000);
    assert.equal(parseFreezeDuration('2d'), 172_800_000);
    assert.equal(parseFreezeDuration('1h30m'), 5_400_000);
    assert.equal(parseFreezeDuration('500ms'), 500);
    assert.equal(parseFreezeDuration(42), 42);
  });

  it('rejects text it cannot read, naming the accepted forms', () => {
    for (const bad of ['', 'h', '64', '-1h', '1w', '1h 30m', '1.5h', 'Infinity']) {
      assert.throws(() => parseFreezeDuration(bad), /invalid freeze duration: .*"72h".*or a number of milliseconds/, bad);
    }
  });

  it('rejects a zero-length duration text', () => {
    assert.throws(() => parseFreezeDuration('0s'), /longer than zero/);
  });

  it('rejects zero, negative and non-finite milliseconds', () => {
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => parseFreezeDuration(bad), /longer than zero/, String(bad));
    }
  });
});

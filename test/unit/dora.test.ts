import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_ENVIRONMENTS,
  DORA_SOURCE,
  changeFailureRateBand,
  computeDora,
  deploymentFrequencyBand,
  deploymentKind,
  doraPeriod,
  leadTimeBand,
  recoveryTimeBand,
  summarizeDurations,
  type DoraMetrics,
  type DoraMove,
  type DoraVersion,
} from '../../domain/dora';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;

const FROM = new Date('2026-10-01T00:00:00Z');
const at = (ms: number) => new Date(FROM.getTime() + ms);
const periodOfDays = (days: number) => ({ from: FROM, to: at(days * DAY) });

/** History builds the moves of one (model, env) in revision order, and the versions they ship. */
class History {
  readonly moves: DoraMove[] = [];
  readonly versions: DoraVersion[] = [];
  private revision = 0;

  constructor(
    readonly model = 'fraud',
    readonly env = 'prod',
  ) {}

  /** deploy ships a new version at `startedAt`, committed `leadMs` before (undefined: no commit time). */
  deploy(startedAt: Date, options: { leadMs?: number; failed?: boolean; version?: string } = {}): this {
    const version = options.version ?? `1.0.${this.revision + 1}`;
    this.versions.push({
      model: this.model,
      version,
      ...(options.leadMs === undefined ? {} : { codeCommittedAt: new Date(startedAt.getTime() - options.leadMs).toISOString() }),
    });
    this.moves.push({ model: this.model, env: this.env, revision: ++this.revision, version, startedAt, health: options.failed ? 'failed' : 'ok', kind: 'change' });
    return this;
  }

  /** restore moves back to an earlier version (a rollback or a release's compensation). */
  restore(startedAt: Date, version: string | null = 'previous'): this {
    this.moves.push({ model: this.model, env: this.env, revision: ++this.revision, version, startedAt, health: 'ok', kind: 'restore' });
    return this;
  }
}

function only(metrics: DoraMetrics[], model = 'fraud', env = 'prod'): DoraMetrics {
  const row = metrics.find((m) => m.model === model && m.env === env);
  assert.ok(row, `no row for ${model}/${env} in ${JSON.stringify(metrics.map((m) => `${m.model}/${m.env}`))}`);
  return row;
}

describe('computeDora on crafted histories', () => {
  it('rates one deployment a day for 30 days as high frequency (elite needs more than one a day) with a 2-hour lead time as elite', () => {
    const h = new History();
    for (let day = 0; day < 30; day++) h.deploy(at(day * DAY + 10 * HOUR), { leadMs: 2 * HOUR });
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(30) }).metrics);
    assert.equal(row.deployments, 30);
    assert.equal(row.restores, 0);
    assert.deepEqual(row.deploymentFrequency, { perDay: 1, band: 'high' });
    assert.deepEqual(row.leadTime, { samples: 30, medianMs: 2 * HOUR, p90Ms: 2 * HOUR, withoutCommitTime: 0, commitAfterDeploy: 0, band: 'elite' });
    assert.deepEqual(row.changeFailureRate, { failed: 0, rate: 0, band: 'elite' });
    assert.deepEqual(row.recoveryTime, { samples: 0, medianMs: null, p90Ms: null, unrecovered: 0, band: null });
  });

  it('rates 31 deployments in 30 days as elite frequency', () => {
    const h = new History();
    for (let i = 0; i < 31; i++) h.deploy(at(i * 23 * HOUR), { leadMs: HOUR });
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(30) }).metrics);
    assert.equal(row.deployments, 31);
    assert.equal(row.deploymentFrequency.band, 'elite');
    assert.ok(Math.abs(row.deploymentFrequency.perDay - 31 / 30) < 1e-12);
  });

  it('counts a rolled-back deployment restored 30 minutes later as 1 failure of N with a 30-minute (elite) recovery, and not the restore as a deployment', () => {
    const h = new History();
    for (let day = 0; day < 20; day++) {
      h.deploy(at(day * DAY + 9 * HOUR), { leadMs: 3 * HOUR, failed: day === 7 });
      if (day === 7) h.restore(at(day * DAY + 9 * HOUR + 30 * MIN), '1.0.7');
    }
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(20) }).metrics);
    assert.equal(row.deployments, 20);
    assert.equal(row.restores, 1);
    assert.deepEqual(row.changeFailureRate, { failed: 1, rate: 1 / 20, band: 'elite' }, '1 of 20 is exactly 5%, which is elite');
    assert.deepEqual(row.recoveryTime, { samples: 1, medianMs: 30 * MIN, p90Ms: 30 * MIN, unrecovered: 0, band: 'elite' });
    assert.equal(row.leadTime.samples, 19, 'the rolled-back deployment never ran successfully, so it gives no lead time');
  });

  it('counts a fix rolled forward as the recovery: service is restored when the next healthy deployment starts', () => {
    const h = new History()
      .deploy(at(HOUR), { leadMs: HOUR })
      .deploy(at(2 * HOUR), { leadMs: HOUR, failed: true })
      .deploy(at(5 * HOUR), { leadMs: HOUR });
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(1) }).metrics);
    assert.equal(row.deployments, 3);
    assert.equal(row.recoveryTime.medianMs, 3 * HOUR);
    assert.equal(row.recoveryTime.band, 'high');
    assert.equal(row.changeFailureRate.band, 'low', '1 of 3 is well above 15%');
  });

  it('rates a recovery that took 2 days as medium', () => {
    const h = new History()
      .deploy(at(0), { leadMs: DAY })
      .deploy(at(DAY), { leadMs: DAY, failed: true })
      .restore(at(3 * DAY));
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(30) }).metrics);
    assert.equal(row.recoveryTime.medianMs, 2 * DAY);
    assert.equal(row.recoveryTime.band, 'medium');
  });

  it('rates a recovery that took 10 days as low', () => {
    const h = new History().deploy(at(0), { failed: true }).restore(at(10 * DAY));
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(30) }).metrics);
    assert.equal(row.recoveryTime.band, 'low');
  });

  it('recovers consecutive failed deployments at the same healthy move, each from its own start', () => {
    const h = new History()
      .deploy(at(0), { failed: true })
      .deploy(at(HOUR), { failed: true })
      .restore(at(3 * HOUR));
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(1) }).metrics);
    assert.equal(row.recoveryTime.samples, 2);
    assert.equal(row.recoveryTime.medianMs, 2.5 * HOUR, 'median of 3h and 2h');
    assert.equal(row.recoveryTime.p90Ms, 3 * HOUR);
  });

  it('measures a recovery that came after the period ended, and counts a failure never restored as unrecovered', () => {
    const restoredLater = new History('fraud', 'prod').deploy(at(DAY - HOUR), { failed: true }).restore(at(DAY + HOUR));
    const neverRestored = new History('fraud', 'staging').deploy(at(2 * HOUR), { failed: true });
    const report = computeDora({ moves: [...restoredLater.moves, ...neverRestored.moves], versions: [], period: periodOfDays(1) });
    const prod = only(report.metrics, 'fraud', 'prod');
    assert.equal(prod.restores, 0, 'the restore itself started after the period');
    assert.equal(prod.recoveryTime.medianMs, 2 * HOUR);
    const staging = only(report.metrics, 'fraud', 'staging');
    assert.deepEqual(staging.recoveryTime, { samples: 0, medianMs: null, p90Ms: null, unrecovered: 1, band: null });
    assert.deepEqual(staging.changeFailureRate, { failed: 1, rate: 1, band: 'low' });
  });

  it('orders moves by revision, not by the order given or by clock time, to find the restoring move', () => {
    const h = new History().deploy(at(0), { failed: true }).restore(at(20 * MIN)).deploy(at(10 * MIN));
    const shuffled = [h.moves[2]!, h.moves[0]!, h.moves[1]!];
    const row = only(computeDora({ moves: shuffled, versions: h.versions, period: periodOfDays(1) }).metrics);
    assert.equal(row.recoveryTime.medianMs, 20 * MIN, 'the restore (revision 2) is the next move, even though revision 3 has an earlier clock');
  });

  it('reports no lead time, and how many deployments had no commit time, when versions were registered without one', () => {
    const h = new History();
    for (let day = 0; day < 5; day++) h.deploy(at(day * DAY));
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(7) }).metrics);
    assert.deepEqual(row.leadTime, { samples: 0, medianMs: null, p90Ms: null, withoutCommitTime: 5, commitAfterDeploy: 0, band: null });
    assert.equal(row.deployments, 5);
  });

  it('treats a version missing from the versions list, or with an unreadable commit time, as having no commit time', () => {
    const h = new History().deploy(at(0), { version: 'gone' }).deploy(at(HOUR), { version: 'garbled' });
    const versions: DoraVersion[] = [{ model: 'fraud', version: 'garbled', codeCommittedAt: 'not a time' }];
    const row = only(computeDora({ moves: h.moves, versions, period: periodOfDays(1) }).metrics);
    assert.equal(row.leadTime.withoutCommitTime, 2);
  });

  it('keeps a commit time later than the deployment out of the lead time and counts it', () => {
    const h = new History().deploy(at(DAY), { leadMs: -HOUR }).deploy(at(2 * DAY), { leadMs: 4 * HOUR });
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(3) }).metrics);
    assert.equal(row.leadTime.commitAfterDeploy, 1);
    assert.equal(row.leadTime.samples, 1);
    assert.equal(row.leadTime.medianMs, 4 * HOUR);
  });

  it('gives an environment with no deployment in the period zero deployments, low frequency and no other bands', () => {
    const report = computeDora({ moves: [], versions: [], period: periodOfDays(30), environments: [{ model: 'fraud', env: 'prod' }] });
    assert.deepEqual(report.metrics, [
      {
        model: 'fraud',
        env: 'prod',
        deployments: 0,
        restores: 0,
        deploymentFrequency: { perDay: 0, band: 'low' },
        leadTime: { samples: 0, medianMs: null, p90Ms: null, withoutCommitTime: 0, commitAfterDeploy: 0, band: null },
        changeFailureRate: { failed: 0, rate: null, band: null },
        recoveryTime: { samples: 0, medianMs: null, p90Ms: null, unrecovered: 0, band: null },
      },
    ]);
  });

  it('returns no rows when nothing is in scope', () => {
    assert.deepEqual(computeDora({ moves: [], versions: [], period: periodOfDays(30) }).metrics, []);
  });

  it('counts a deployment starting exactly at `from` and leaves out one starting exactly at `to` (the period is half-open)', () => {
    const h = new History().deploy(at(-1), { leadMs: HOUR }).deploy(at(0), { leadMs: HOUR }).deploy(at(DAY), { leadMs: HOUR });
    const row = only(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(1) }).metrics);
    assert.equal(row.deployments, 1);
  });

  it('rejects a period that ends before it starts, or is empty', () => {
    assert.throws(() => computeDora({ moves: [], versions: [], period: { from: at(DAY), to: at(0) } }), /must be after from/);
    assert.throws(() => computeDora({ moves: [], versions: [], period: { from: at(0), to: at(0) } }), RangeError);
    assert.throws(() => computeDora({ moves: [], versions: [], period: { from: new Date('nope'), to: at(0) } }), /valid dates/);
  });

  it('adds a pooled all-environments row per model when asked, after its environments in pipeline order', () => {
    const prod = new History('fraud', 'prod').deploy(at(0), { leadMs: 4 * HOUR }).deploy(at(DAY), { leadMs: 6 * HOUR, failed: true }).restore(at(DAY + 10 * MIN));
    const dev = new History('fraud', 'dev').deploy(at(0), { leadMs: HOUR, version: '2.0.0' }).deploy(at(HOUR), { leadMs: 2 * HOUR, version: '2.0.1' });
    const other = new History('churn', 'staging').deploy(at(0));
    const report = computeDora({
      moves: [...prod.moves, ...dev.moves, ...other.moves],
      versions: [...prod.versions, ...dev.versions, ...other.versions],
      period: periodOfDays(2),
      allEnvironments: true,
    });
    assert.deepEqual(report.metrics.map((m) => `${m.model}/${m.env}`), ['churn/staging', `churn/${ALL_ENVIRONMENTS}`, 'fraud/dev', 'fraud/prod', `fraud/${ALL_ENVIRONMENTS}`]);
    const all = only(report.metrics, 'fraud', ALL_ENVIRONMENTS);
    assert.equal(all.deployments, 4);
    assert.equal(all.restores, 1);
    assert.equal(all.deploymentFrequency.perDay, 2);
    assert.deepEqual(all.changeFailureRate, { failed: 1, rate: 0.25, band: 'low' });
    assert.deepEqual([all.leadTime.samples, all.leadTime.medianMs], [3, 2 * HOUR], 'median of 1h, 2h and 4h');
    assert.equal(all.recoveryTime.medianMs, 10 * MIN);
  });

  it('leaves the all-environments row out unless asked', () => {
    const h = new History().deploy(at(0));
    assert.equal(computeDora({ moves: h.moves, versions: h.versions, period: periodOfDays(1) }).metrics.length, 1);
  });

  it('carries the report the bands come from, and its boundaries, in the output', () => {
    const report = computeDora({ moves: [], versions: [], period: periodOfDays(30) });
    assert.equal(report.source, DORA_SOURCE);
    assert.match(report.source.report, /Accelerate State of DevOps Report 2023/);
    assert.match(report.source.publisher, /Google Cloud/);
    assert.deepEqual(report.period, { from: FROM.toISOString(), to: at(30 * DAY).toISOString(), days: 30 });
    assert.deepEqual(report.bandRules.changeFailureRate.map((r) => r.rule), ['rate <= 5%', '5% < rate <= 10%', '10% < rate <= 15%', 'rate > 15%']);
  });
});

describe('DORA band boundaries', () => {
  it('deployment frequency: more than one a day is elite, once a day to once a week high, once a week to once a month medium, less low', () => {
    assert.equal(deploymentFrequencyBand(31, MONTH), 'elite');
    assert.equal(deploymentFrequencyBand(2, DAY), 'elite');
    assert.equal(deploymentFrequencyBand(30, MONTH), 'high');
    assert.equal(deploymentFrequencyBand(1, DAY), 'high');
    assert.equal(deploymentFrequencyBand(1, WEEK), 'high');
    assert.equal(deploymentFrequencyBand(1, WEEK + 1), 'medium');
    assert.equal(deploymentFrequencyBand(1, MONTH), 'medium');
    assert.equal(deploymentFrequencyBand(1, MONTH + 1), 'low');
    assert.equal(deploymentFrequencyBand(0, DAY), 'low');
  });

  it('lead time: under a day is elite, a day to a week high, over a week to 30 days medium, longer low', () => {
    assert.equal(leadTimeBand(0), 'elite');
    assert.equal(leadTimeBand(DAY - 1), 'elite');
    assert.equal(leadTimeBand(DAY), 'high');
    assert.equal(leadTimeBand(WEEK), 'high');
    assert.equal(leadTimeBand(WEEK + 1), 'medium');
    assert.equal(leadTimeBand(MONTH), 'medium');
    assert.equal(leadTimeBand(MONTH + 1), 'low');
  });

  it('change failure rate: up to 5% elite, up to 10% high, up to 15% medium, above low', () => {
    assert.equal(changeFailureRateBand(0, 1), 'elite');
    assert.equal(changeFailureRateBand(1, 20), 'elite');
    assert.equal(changeFailureRateBand(1, 19), 'high');
    assert.equal(changeFailureRateBand(2, 20), 'high');
    assert.equal(changeFailureRateBand(3, 29), 'medium');
    assert.equal(changeFailureRateBand(3, 20), 'medium');
    assert.equal(changeFailureRateBand(4, 26), 'low');
    assert.equal(changeFailureRateBand(4, 20), 'low');
  });

  it('recovery time: under an hour elite, under a day high, a day to a week medium, longer low', () => {
    assert.equal(recoveryTimeBand(HOUR - 1), 'elite');
    assert.equal(recoveryTimeBand(HOUR), 'high');
    assert.equal(recoveryTimeBand(DAY - 1), 'high');
    assert.equal(recoveryTimeBand(DAY), 'medium');
    assert.equal(recoveryTimeBand(WEEK), 'medium');
    assert.equal(recoveryTimeBand(WEEK + 1), 'low');
  });
});

describe('summarizeDurations', () => {
  it('takes the middle value of an odd count and the mean of the two middle values of an even count', () => {
    assert.equal(summarizeDurations([5, 1, 3]).medianMs, 3);
    assert.equal(summarizeDurations([4, 1, 3, 2]).medianMs, 2.5);
  });

  it('takes p90 by nearest rank', () => {
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    assert.equal(summarizeDurations(ten).p90Ms, 9);
    assert.equal(summarizeDurations([...ten, 11]).p90Ms, 10);
    assert.deepEqual(summarizeDurations([7]), { samples: 1, medianMs: 7, p90Ms: 7 });
  });

  it('gives nulls for no samples', () => {
    assert.deepEqual(summarizeDurations([]), { samples: 0, medianMs: null, p90Ms: null });
  });
});

describe('deploymentKind', () => {
  it('calls a release deploy or a direct move a change', () => {
    assert.equal(deploymentKind({ opKey: 'release-fraud-1.4.0:prod:deploy', version: '1.4.0' }), 'change');
    assert.equal(deploymentKind({ opKey: 'manual-hotfix', version: '1.4.1' }), 'change');
  });

  it("calls a release's compensation, a `slipway rollback` and a move to nothing restores", () => {
    assert.equal(deploymentKind({ opKey: 'release-fraud-1.4.0:prod:deploy:undo', version: '1.3.0' }), 'restore');
    assert.equal(deploymentKind({ opKey: 'rollback-fraud-prod-abc123:deploy', version: '1.3.0' }), 'restore');
    assert.equal(deploymentKind({ opKey: 'release-fraud-1.0.0:prod:deploy:undo', version: null }), 'restore');
  });
});

describe('doraPeriod', () => {
  const now = new Date('2026-11-20T08:00:00Z');

  it('ends the period now and starts it the look-back earlier', () => {
    assert.deepEqual(doraPeriod(now, '30d'), { from: new Date(now.getTime() - 30 * DAY), to: now });
    assert.deepEqual(doraPeriod(now, '12h'), { from: new Date(now.getTime() - 12 * HOUR), to: now });
  });

  it('rejects a zero, malformed or over-long look-back with a message saying why', () => {
    assert.throws(() => doraPeriod(now, '0d'), /longer than zero/);
    assert.throws(() => doraPeriod(now, '30 days'), /invalid duration "30 days"/);
    assert.throws(() => doraPeriod(now, '3661d'), /at most 3660d/);
  });
});

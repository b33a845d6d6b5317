import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthReport, HealthReports } from '../../registry/releases';
import { registryHealthSource } from './registry-health';

const SINCE = '2026-01-01T00:00:00.000Z';

function storeWith(reports: Array<Partial<HealthReport>>): HealthReports {
  return {
    async healthSince() {
      return reports.map((r, i) => ({ model: 'm', env: 'staging', version: 'v2', healthy: true, source: 'test', at: new Date(Date.parse(SINCE) + 1000 * (i + 1)), ...r }));
    },
  };
}

const query = { model: 'm', env: 'staging', version: 'v2', since: SINCE };

describe('the registry health source', () => {
  it('does not call zero reports healthy when the stage needs at least one', async () => {
    const verdict = await registryHealthSource(storeWith([])).check({ ...query, minReports: 1 });
    assert.equal(verdict.healthy, false);
    assert.equal(verdict.missing, true, 'short of evidence, not unhealthy evidence');
    assert.match(verdict.detail, /only 0 health report\(s\).*at least 1 \(minReports\)/);
  });

  it('is short of evidence below minReports and healthy at it', async () => {
    const source = registryHealthSource(storeWith([{}, {}]));
    assert.deepEqual(await source.check({ ...query, minReports: 3 }).then((v) => [v.healthy, v.missing]), [false, true]);
    const enough = await source.check({ ...query, minReports: 2 });
    assert.equal(enough.healthy, true);
    assert.equal(enough.missing, undefined);
  });

  it('reports an unhealthy report as unhealthy, not missing, even below minReports', async () => {
    const verdict = await registryHealthSource(storeWith([{ healthy: true, errorRate: 0.3 }])).check({ ...query, minReports: 5, maxErrorRate: 0.1 });
    assert.equal(verdict.healthy, false);
    assert.equal(verdict.missing, undefined);
    assert.match(verdict.detail, /unhealthy report from test/);
  });

  it('passes zero reports only when minReports is 0 (or absent, as for callers from before the option), and says so', async () => {
    const explicit = await registryHealthSource(storeWith([])).check({ ...query, minReports: 0 });
    assert.equal(explicit.healthy, true);
    assert.match(explicit.detail, /minReports is 0/);
    assert.equal((await registryHealthSource(storeWith([])).check(query)).healthy, true);
  });

  it('refuses to pass a limit it cannot judge (maxPredictionDrift) instead of ignoring it', async () => {
    const verdict = await registryHealthSource(storeWith([{}, {}, {}])).check({ ...query, maxPredictionDrift: 0.05 });
    assert.equal(verdict.healthy, false);
    assert.match(verdict.detail, /cannot judge maxPredictionDrift/);
  });
});

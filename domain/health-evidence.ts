/**
 * How much health evidence a bake or canary analysis needs before its
 * verdict counts (pipeline keys `minReports`, `onMissing`, `waitLimit` under
 * `healthChecks` and `strategy.canary.analysis`). Pure, so the release
 * workflow fills in the defaults itself: they are never written into a
 * pipeline, whose hash stays what it was.
 */
import { parseDuration } from './duration';

/** DEFAULT_MIN_REPORTS is how many health reports a bake or analysis needs when the stage names no `minReports`: no evidence is not good news. */
export const DEFAULT_MIN_REPORTS = 1;
/** DEFAULT_WAIT_LIMIT is how long `onMissing: wait` keeps checking for missing reports when the stage names no `waitLimit`. */
export const DEFAULT_WAIT_LIMIT = '10m';

/** EvidenceConfig is what a stage writes about evidence, under healthChecks or analysis. */
export interface EvidenceConfig {
  minReports?: number;
  onMissing?: 'fail' | 'wait';
  waitLimit?: string;
}

/** EvidenceRule is an EvidenceConfig with the defaults filled in. */
export interface EvidenceRule {
  minReports: number;
  onMissing: 'fail' | 'wait';
  waitLimitMs: number;
}

/** evidenceRule fills in the defaults: at least one report, fail when short, wait (if asked) up to 10 minutes. */
export function evidenceRule(config: EvidenceConfig | undefined): EvidenceRule {
  return {
    minReports: config?.minReports ?? DEFAULT_MIN_REPORTS,
    onMissing: config?.onMissing ?? 'fail',
    waitLimitMs: parseDuration(config?.waitLimit ?? DEFAULT_WAIT_LIMIT),
  };
}

/**
 * DORA performance bands: the rules that place a metric in a band, and the
 * report they come from. Pure.
 *
 * Bands: the software-delivery performance clusters of the *Accelerate State
 * of DevOps Report 2023* by DORA (DevOps Research and Assessment), published
 * by Google Cloud (https://dora.dev/research/2023/dora-report/). Its table:
 *
 * | cluster | deployment frequency                    | change lead time              | change failure rate | failed deployment recovery time |
 * | ------- | --------------------------------------- | ----------------------------- | ------------------- | ------------------------------- |
 * | elite   | on demand (multiple deploys per day)    | less than one day             | 5%                  | less than one hour              |
 * | high    | between once per day and once per week  | between one day and one week  | 10%                 | less than one day               |
 * | medium  | between once per week and once per month| between one week and one month| 15%                 | between one day and one week    |
 * | low     | between once per week and once per month| between one week and one month| 64%                 | between one month and six months|
 *
 * The report's clusters are descriptive (cluster centres and typical ranges),
 * so they overlap and leave gaps; `DORA_BAND_RULES` states the exact
 * boundaries used here. Two choices worth knowing: in 2023 the low cluster
 * reported the same deployment frequency and lead time as medium, so anything
 * slower than medium's range (less than monthly; lead time over a month) is
 * low, as in the reports before 2023; and the change failure rates are
 * centres, so a rate up to and including a centre falls in that band.
 *
 */

/** DoraBand is a DORA performance cluster, best first. */
export type DoraBand = 'elite' | 'high' | 'medium' | 'low';

/** DORA_BANDS lists the bands best first. */
export const DORA_BANDS: readonly DoraBand[] = ['elite', 'high', 'medium', 'low'];

/** DORA_SOURCE is the report the bands are taken from, carried in every DoraReport. */
export const DORA_SOURCE = {
  report: 'Accelerate State of DevOps Report 2023',
  year: 2023,
  publisher: 'DORA (DevOps Research and Assessment), Google Cloud',
  table: 'software delivery performance clusters: elite, high, medium, low',
  url: 'https://dora.dev/research/2023/dora-report/',
} as const;

/** DoraBandRule pairs what the report says for a band with the exact boundary used here. */
export interface DoraBandRule {
  band: DoraBand;
  report: string;
  rule: string;
}

/** DORA_BAND_RULES states, per metric and band, the report's wording and the boundary applied. */
export const DORA_BAND_RULES: Readonly<Record<'deploymentFrequency' | 'leadTime' | 'changeFailureRate' | 'recoveryTime', readonly DoraBandRule[]>> = {
  deploymentFrequency: [
    { band: 'elite', report: 'on demand (multiple deploys per day)', rule: 'more than 1 deployment per day' },
    { band: 'high', report: 'between once per day and once per week', rule: 'from 1 per week up to 1 per day' },
    { band: 'medium', report: 'between once per week and once per month', rule: 'from 1 per 30 days up to (not including) 1 per week' },
    { band: 'low', report: 'between once per week and once per month (2023 low cluster; earlier reports: monthly to 6-monthly)', rule: 'less than 1 per 30 days, or none' },
  ],
  leadTime: [
    { band: 'elite', report: 'less than one day', rule: 'median < 1 day' },
    { band: 'high', report: 'between one day and one week', rule: '1 day <= median <= 7 days' },
    { band: 'medium', report: 'between one week and one month', rule: '7 days < median <= 30 days' },
    { band: 'low', report: 'between one week and one month (2023 low cluster; earlier reports: one to six months)', rule: 'median > 30 days' },
  ],
  changeFailureRate: [
    { band: 'elite', report: '5%', rule: 'rate <= 5%' },
    { band: 'high', report: '10%', rule: '5% < rate <= 10%' },
    { band: 'medium', report: '15%', rule: '10% < rate <= 15%' },
    { band: 'low', report: '64%', rule: 'rate > 15%' },
  ],
  recoveryTime: [
    { band: 'elite', report: 'less than one hour', rule: 'median < 1 hour' },
    { band: 'high', report: 'less than one day', rule: '1 hour <= median < 1 day' },
    { band: 'medium', report: 'between one day and one week', rule: '1 day <= median <= 7 days' },
    { band: 'low', report: 'between one month and six months', rule: 'median > 7 days (the report leaves one week to one month unassigned)' },
  ],
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
// The report's "month", as a fixed length so boundaries do not move with the calendar.
const MONTH_MS = 30 * DAY_MS;

/** deploymentFrequencyBand places `deployments` in a period of `periodMs` in a band (exact integer comparisons). */
export function deploymentFrequencyBand(deployments: number, periodMs: number): DoraBand {
  if (deployments * DAY_MS > periodMs) return 'elite';
  if (deployments * WEEK_MS >= periodMs) return 'high';
  if (deployments * MONTH_MS >= periodMs) return 'medium';
  return 'low';
}

/** leadTimeBand places a median lead time for changes in a band. */
export function leadTimeBand(medianMs: number): DoraBand {
  if (medianMs < DAY_MS) return 'elite';
  if (medianMs <= WEEK_MS) return 'high';
  if (medianMs <= MONTH_MS) return 'medium';
  return 'low';
}

/** changeFailureRateBand places `failed` of `deployments` in a band (integer comparisons, so 1 of 20 is exactly 5%). */
export function changeFailureRateBand(failed: number, deployments: number): DoraBand {
  if (failed * 100 <= 5 * deployments) return 'elite';
  if (failed * 100 <= 10 * deployments) return 'high';
  if (failed * 100 <= 15 * deployments) return 'medium';
  return 'low';
}

/** recoveryTimeBand places a median failed-deployment recovery time in a band. */
export function recoveryTimeBand(medianMs: number): DoraBand {
  if (medianMs < HOUR_MS) return 'elite';
  if (medianMs < DAY_MS) return 'high';
  if (medianMs <= WEEK_MS) return 'medium';
  return 'low';
}

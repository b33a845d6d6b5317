/**
 * Threshold comparison for metric gates: parsing comparators such as
 * `">= 0.90"` from pipeline YAML, checking a version's registered metric
 * against one, and checking a candidate against the live (champion) version.
 *
 * Pure: no I/O, safe to import from workflow code. A malformed comparator or
 * maxDrop throws (a configuration error, i.e. a technical outcome), while a
 * metric that misses its threshold returns `passed: false` (a business
 * outcome), so the two never get confused.
 */

/** ComparatorOp is one of the six operators a threshold may use. */
export type ComparatorOp = '>=' | '<=' | '>' | '<' | '==' | '!=';

/** Comparator is a parsed threshold such as `>= 0.9`. */
export type Comparator = { op: ComparatorOp; value: number };

/** GateCheck is the result of checking one metric, as shown in the release status. */
export type GateCheck = {
  metric: string;
  // null when the metric is missing, so JSON status output keeps the field.
  value: number | null;
  threshold: string;
  passed: boolean;
  reason: string;
};

const COMPARATOR_FORMS = 'an operator (>=, <=, >, <, ==, !=) followed by a number, e.g. ">= 0.90", "<=250", "> 0" or "== 1"';

// Two-character operators come first so ">=" is not read as ">" then "=0.9".
const COMPARATOR_PATTERN = /^\s*(>=|<=|==|!=|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*$/;

// Relative tolerance for no-worse-than checks, whose bound is computed
// (live - maxDrop) and would otherwise fail exact boundary cases such as
// 0.92 - 0.02 vs 0.90 because of binary floating point.
const RELATIVE_TOLERANCE = 1e-9;

/** parseComparator reads a threshold like ">= 0.90" or "<=250"; throws naming the accepted forms. */
export function parseComparator(text: string): Comparator {
  if (typeof text !== 'string') {
    throw new Error(`invalid comparator ${JSON.stringify(text)}: expected a string with ${COMPARATOR_FORMS}`);
  }
  const match = COMPARATOR_PATTERN.exec(text);
  if (!match) {
    throw new Error(`invalid comparator ${JSON.stringify(text)}: expected ${COMPARATOR_FORMS}`);
  }
  const value = Number(match[2]);
  if (!Number.isFinite(value)) {
    throw new Error(`invalid comparator ${JSON.stringify(text)}: the number must be finite; expected ${COMPARATOR_FORMS}`);
  }
  return { op: match[1] as ComparatorOp, value };
}

/** compare applies a parsed comparator to a value (exact comparison, no tolerance). */
export function compare(actual: number, comparator: Comparator): boolean {
  switch (comparator.op) {
    case '>=':
      return actual >= comparator.value;
    case '<=':
      return actual <= comparator.value;
    case '>':
      return actual > comparator.value;
    case '<':
      return actual < comparator.value;
    case '==':
      return actual === comparator.value;
    case '!=':
      return actual !== comparator.value;
  }
}

/** checkThreshold checks a version's metric against a comparator; a missing metric fails. */
export function checkThreshold(metric: string, actual: number | undefined, comparator: string): GateCheck {
  const parsed = parseComparator(comparator);
  const threshold = comparator.trim();
  if (actual === undefined || actual === null) {
    return { metric, value: null, threshold, passed: false, reason: missingMetricReason(metric) };
  }
  if (typeof actual !== 'number' || !Number.isFinite(actual)) {
    return { metric, value: null, threshold, passed: false, reason: `metric ${metric} is not a finite number (got ${String(actual)})` };
  }
  const passed = compare(actual, parsed);
  const reason = passed
    ? `${metric} = ${formatNumber(actual)} satisfies ${threshold}`
    : `${metric} = ${formatNumber(actual)} does not satisfy ${threshold}`;
  return { metric, value: actual, threshold, passed, reason };
}

/**
 * checkNoWorseThan checks that a candidate's metric is at most `maxDrop` worse
 * than the live version's (absolute units of the metric); passes when nothing is live.
 */
export function checkNoWorseThan(
  metric: string,
  candidate: number | undefined,
  live: number | undefined,
  maxDrop: number,
  higherIsBetter: boolean,
): GateCheck {
  if (typeof maxDrop !== 'number' || !Number.isFinite(maxDrop) || maxDrop < 0) {
    throw new Error(`invalid maxDrop ${String(maxDrop)} for metric ${metric}: expected a finite number >= 0 (0 means no worse at all)`);
  }
  const direction = higherIsBetter ? 'higher is better' : 'lower is better';
  const liveIsNumber = typeof live === 'number' && Number.isFinite(live);
  const bound = liveIsNumber ? (higherIsBetter ? live - maxDrop : live + maxDrop) : undefined;
  const threshold =
    bound === undefined
      ? `no worse than live by more than ${formatNumber(maxDrop)} (${direction})`
      : `${higherIsBetter ? '>=' : '<='} ${formatNumber(bound)} (live ${formatNumber(live as number)} ${higherIsBetter ? '-' : '+'} ${formatNumber(maxDrop)}, ${direction})`;

  if (candidate === undefined || candidate === null) {
    return { metric, value: null, threshold, passed: false, reason: missingMetricReason(metric) };
  }
  if (typeof candidate !== 'number' || !Number.isFinite(candidate)) {
    return { metric, value: null, threshold, passed: false, reason: `metric ${metric} is not a finite number (got ${String(candidate)})` };
  }
  if (!liveIsNumber) {
    return {
      metric,
      value: candidate,
      threshold,
      passed: true,
      reason: `no live version value for ${metric}: nothing to compare against, so the check passes`,
    };
  }
  const liveValue = live as number;
  // How much worse the candidate is; negative means it is better.
  const worseBy = higherIsBetter ? liveValue - candidate : candidate - liveValue;
  const tolerance = RELATIVE_TOLERANCE * Math.max(1, Math.abs(liveValue), Math.abs(candidate));
  const passed = worseBy <= maxDrop + tolerance;
  let reason: string;
  if (worseBy <= 0) {
    reason = `${metric} = ${formatNumber(candidate)} is no worse than live ${formatNumber(liveValue)} (${direction})`;
  } else if (passed) {
    reason = `${metric} = ${formatNumber(candidate)} is ${formatNumber(worseBy)} worse than live ${formatNumber(liveValue)}, within the allowed ${formatNumber(maxDrop)} (${direction})`;
  } else {
    reason = `${metric} = ${formatNumber(candidate)} is ${formatNumber(worseBy)} worse than live ${formatNumber(liveValue)}, more than the allowed ${formatNumber(maxDrop)} (${direction})`;
  }
  return { metric, value: candidate, threshold, passed, reason };
}

function missingMetricReason(metric: string): string {
  return `metric ${metric} is not registered on this version`;
}

// Twelve significant digits hide binary noise (0.9000000000000001 -> 0.9) in messages.
function formatNumber(n: number): string {
  return String(Number(n.toPrecision(12)));
}

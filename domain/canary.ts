/**
 * Canary step math: a canary deploy shifts traffic to the new version in
 * increasing steps (e.g. 10% → 50% → 100%) and analyses health after each.
 * Pure: the workflow sets each weight, sleeps `analyseAfterMs`, then analyses.
 */

/** CanaryStep is one traffic shift: its 1-based position, the weight and when to analyse it. */
export type CanaryStep = {
  step: number;
  // Percent of traffic the new version receives at this step.
  weight: number;
  // Time to wait after setting the weight before analysing it, so the
  // analysis sees traffic that actually reached the new version.
  analyseAfterMs: number;
};

/**
 * validateCanarySteps returns what is wrong with a list of canary weights, or
 * null: integers from 1 to 100, strictly increasing, the last being 100.
 */
export function validateCanarySteps(steps: number[]): string | null {
  if (!Array.isArray(steps) || steps.length === 0) {
    return 'canary steps must be a non-empty list of traffic percentages ending at 100, e.g. [10, 50, 100]';
  }
  for (let i = 0; i < steps.length; i++) {
    const weight: unknown = steps[i];
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 100) {
      return `canary step ${i + 1} is ${JSON.stringify(weight)}: each step must be a whole percentage from 1 to 100`;
    }
    const before = i > 0 ? (steps[i - 1] as number) : undefined;
    if (before !== undefined && weight <= before) {
      return `canary step ${i + 1} (${weight}) must be greater than the step before it (${before}): steps must strictly increase`;
    }
  }
  const last = steps[steps.length - 1];
  if (last !== 100) {
    return `the last canary step must be 100 (all traffic on the new version); got ${String(last)}: add 100 at the end`;
  }
  return null;
}

/**
 * canarySchedule turns validated weights and the analysis interval into the
 * steps to run, each analysed `intervalMs` after its weight is set (the last,
 * 100%, too); throws on invalid steps or interval.
 */
export function canarySchedule(steps: number[], intervalMs: number): CanaryStep[] {
  const error = validateCanarySteps(steps);
  if (error !== null) throw new Error(error);
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 0) {
    throw new Error(`canary interval must be a finite number of milliseconds >= 0; got ${String(intervalMs)}`);
  }
  return steps.map((weight, i) => ({ step: i + 1, weight, analyseAfterMs: intervalMs }));
}

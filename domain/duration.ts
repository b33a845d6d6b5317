/**
 * Durations as pipeline YAML writes them: `500ms`, `30s`, `1m`, `72h`, `2d`, or
 * compounds such as `1h30m`. Whole numbers only and units largest first, each
 * at most once, so every duration has one obvious reading.
 *
 * Pure: no I/O, safe to import from workflow code.
 */

/** DURATION_FORMAT describes the accepted duration text, for error messages. */
export const DURATION_FORMAT =
  'a duration such as "500ms", "30s", "1m", "72h", "2d" or "1h30m": whole numbers, each followed by a unit (d, h, m, s, ms), largest unit first';

// Largest first: the order compound durations must be written in.
const UNITS = [
  { unit: 'd', ms: 86_400_000 },
  { unit: 'h', ms: 3_600_000 },
  { unit: 'm', ms: 60_000 },
  { unit: 's', ms: 1_000 },
  { unit: 'ms', ms: 1 },
] as const;

// "ms" before "m" so "500ms" is not read as 500 minutes followed by "s".
const PART = /(\d+)(ms|d|h|m|s)/y;

// Longer text than this is not a duration anyone meant; bounds the work.
const MAX_TEXT_LENGTH = 64;

/** parseDuration turns text like "1h30m" into milliseconds; throws naming the accepted format. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') {
    throw new Error(`invalid duration ${describe(text)}: expected ${DURATION_FORMAT}`);
  }
  if (text.length === 0 || text.length > MAX_TEXT_LENGTH) {
    throw new Error(`invalid duration ${describe(text)}: expected ${DURATION_FORMAT}`);
  }
  let total = 0;
  let lastUnitIndex = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) {
      throw new Error(`invalid duration ${describe(text)}: expected ${DURATION_FORMAT}`);
    }
    const unitIndex = UNITS.findIndex((u) => u.unit === match[2]);
    if (unitIndex <= lastUnitIndex) {
      throw new Error(`invalid duration ${describe(text)}: units must be largest first and appear once; expected ${DURATION_FORMAT}`);
    }
    lastUnitIndex = unitIndex;
    total += Number(match[1]) * (UNITS[unitIndex] as (typeof UNITS)[number]).ms;
  }
  if (!Number.isSafeInteger(total)) {
    throw new Error(`invalid duration ${describe(text)}: too long; expected ${DURATION_FORMAT}`);
  }
  return total;
}

/** formatDuration writes milliseconds the way parseDuration reads them, e.g. 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new Error(`cannot format ${describe(ms)} as a duration: expected a finite number of milliseconds >= 0`);
  }
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const { unit, ms: size } of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}

// Bounded so a hostile value cannot blow up the error message.
function describe(value: unknown): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
  return Array.isArray(value) ? 'a list' : `a value of type ${typeof value}`;
}

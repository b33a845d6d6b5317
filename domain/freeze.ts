/**
 * Freeze windows: periods in which a stage must not deploy, e.g. from Friday
 * 16:00 for 64 hours. A window opens at each fire time of its cron expression,
 * read in the window's timezone (UTC when none is given, so DST moves the
 * opening with local wall-clock time), and stays open for `duration` of
 * elapsed time (so a 64h window spanning a DST change still lasts 64 real
 * hours). The end is exclusive. An opening at a local time the spring-forward
 * change skips (02:30 in Berlin) is not lost: it opens at that time read with
 * the offset before the change (03:30 CEST).
 *
 * Pure: time comes in as an argument, so workflow code may call this with
 * `new Date()` (Temporal's deterministic workflow clock).
 */
import type { CronExpressionParser as CronExpressionParserClass } from 'cron-parser';
import { formatDuration, parseDuration } from './duration';

// Deep import on purpose: the package root also loads CronFileParser, which
// requires `fs`, and Temporal's workflow bundler refuses `fs` in workflow code.
// This file (and its deps: CronExpression, CronDate, luxon) does no I/O.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CronExpressionParser } = require('cron-parser/dist/CronExpressionParser') as {
  CronExpressionParser: typeof CronExpressionParserClass;
};

/** FreezeWindow is one freeze rule from the pipeline YAML. */
export type FreezeWindow = {
  cron: string;
  // Milliseconds, or duration text such as "64h", "30m", "2d", "1h30m".
  duration: string | number;
  // IANA zone name the cron is read in; UTC when absent.
  timezone?: string;
};

/** FreezeDecision says whether a stage is frozen at a moment, and until when. */
export type FreezeDecision =
  | { frozen: false }
  | { frozen: true; until: Date; window: FreezeWindow; reason: string };

// Safety bound for chaining overlapping windows: a set of windows that never
// leaves a gap (e.g. hourly with a 2h duration) would otherwise loop forever.
// Stopping early is safe: the caller sleeps until `until` and asks again.
const MAX_CHAIN_STEPS = 1000;

/**
 * parseFreezeDuration turns a window duration into milliseconds: a number is
 * taken as ms; text is read by parseDuration (domain/duration), the grammar
 * every pipeline duration uses, e.g. "64h" or "1h30m". Throws unless > 0.
 */
export function parseFreezeDuration(duration: string | number): number {
  let ms: number;
  if (typeof duration === 'number') {
    ms = duration;
  } else {
    try {
      ms = parseDuration(duration);
    } catch (err) {
      throw new Error(`invalid freeze duration: ${errorMessage(err)}, or a number of milliseconds`, { cause: err });
    }
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new Error(`invalid freeze duration ${JSON.stringify(duration)}: it must be longer than zero`);
  }
  return Math.round(ms);
}

/** validateFreezeWindow returns what is wrong with a window (cron, timezone or duration), or null. */
export function validateFreezeWindow(w: FreezeWindow): string | null {
  if (w === null || typeof w !== 'object') return 'freeze window must be an object like { cron: "0 16 * * FRI", duration: "64h", timezone: "UTC" }';
  if (typeof w.cron !== 'string' || w.cron.trim() === '') {
    return 'freeze window cron is missing: give a cron expression such as "0 16 * * FRI" (minute hour day-of-month month day-of-week)';
  }
  if (w.timezone !== undefined && !isValidTimeZone(w.timezone)) {
    return `freeze window timezone ${JSON.stringify(w.timezone)} is not a known IANA time zone: use a name like "UTC" or "Europe/Berlin"`;
  }
  try {
    parseCron(w.cron, 0, w.timezone ?? 'UTC');
  } catch (err) {
    return `freeze window cron ${JSON.stringify(w.cron)} is invalid: ${errorMessage(err)}`;
  }
  try {
    parseFreezeDuration(w.duration);
  } catch (err) {
    return errorMessage(err);
  }
  return null;
}

/**
 * activeFreeze says whether `now` falls inside any window and, if so, until
 * when: the latest end among the windows open at `now`, extended for as long
 * as that end falls inside another window (overlapping or back-to-back windows
 * merge). Throws on an invalid window; validate pipelines at load time.
 */
export function activeFreeze(windows: FreezeWindow[], now: Date): FreezeDecision {
  const parsed = windows.map(toParsedWindow);
  const nowMs = now.getTime();

  const open = openAt(parsed, nowMs);
  if (open === undefined) return { frozen: false };

  let until = open.end;
  let extended = false;
  for (let step = 0; step < MAX_CHAIN_STEPS; step++) {
    const next = openAt(parsed, until);
    if (next === undefined || next.end <= until) break;
    until = next.end;
    extended = true;
  }

  const w = open.window.source;
  const lasting = typeof w.duration === 'string' ? w.duration.trim() : formatDuration(open.window.durationMs);
  const reason =
    `freeze window "${w.cron}" (${w.timezone ?? 'UTC'}, ${lasting}) ` +
    `opened at ${new Date(open.start).toISOString()}; deploys resume at ${new Date(until).toISOString()}` +
    (extended ? ' (extended by overlapping freeze windows)' : '');
  return { frozen: true, until: new Date(until), window: w, reason };
}

type ParsedWindow = { source: FreezeWindow; durationMs: number; tz: string };
type OpenWindow = { window: ParsedWindow; start: number; end: number };

function toParsedWindow(w: FreezeWindow): ParsedWindow {
  const error = validateFreezeWindow(w);
  if (error !== null) throw new Error(error);
  return { source: w, durationMs: parseFreezeDuration(w.duration), tz: w.timezone ?? 'UTC' };
}

// The window open at `atMs` with the latest end, if any. For one cron, the most
// recent fire at or before `atMs` gives the latest end, since every opening
// lasts the same duration.
function openAt(windows: ParsedWindow[], atMs: number): OpenWindow | undefined {
  let best: OpenWindow | undefined;
  for (const window of windows) {
    const start = Math.max(latestFireAtOrBefore(window, atMs), latestSkippedFireAtOrBefore(window, atMs) ?? -Infinity);
    const end = start + window.durationMs;
    if (atMs < end && (best === undefined || end > best.end)) best = { window, start, end };
  }
  return best;
}

function latestFireAtOrBefore(window: ParsedWindow, atMs: number): number {
  // prev() is strictly before currentDate; one millisecond later makes a fire
  // exactly at `atMs` count (cron has second resolution at best).
  const expression = parseCron(window.source.cron, atMs + 1, window.tz);
  try {
    return expression.prev().getTime();
  } catch (err) {
    // cron-parser gives up (loop limit) rather than return nothing.
    throw new Error(`freeze window cron "${window.source.cron}" has no fire time before ${new Date(atMs).toISOString()}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/**
 * cron-parser drops a fire whose local time does not exist (02:30 on a
 * spring-forward day), which would silently skip a freeze. Such a fire opens
 * where RFC 5545 and JS Temporal put a nonexistent time: read with the offset
 * from before the change (02:30 CET = 03:30 CEST). Only the last `durationMs`
 * before `atMs` can hold a window still open, so only gaps there are looked for.
 */
function latestSkippedFireAtOrBefore(window: ParsedWindow, atMs: number): number | undefined {
  if (window.tz === 'UTC') return undefined;
  const from = atMs - window.durationMs;
  let latest: number | undefined;
  // Offsets change weeks apart, so a daily sample sees every change in the span. A day earlier than `from`:
  // a change just before it can skip a fire just after it (gaps last an hour, at most a day).
  let a = from - DAY_MS;
  while (a < atMs) {
    const b = Math.min(a + DAY_MS, atMs);
    const before = utcOffsetMs(window.tz, a);
    const after = utcOffsetMs(window.tz, b);
    if (after > before) {
      const change = firstInstantWithOffset(window.tz, a, b, before);
      // Local wall times [gapStart, gapStart + gap) were skipped; a cron fire there, read with the old offset.
      const gapStart = change + before;
      const fire = CronExpressionParser.parse(window.source.cron, { currentDate: gapStart + (after - before), tz: 'UTC', hashSeed: window.source.cron }).prev().getTime();
      const at = fire - before;
      if (fire >= gapStart && at > from && at <= atMs && (latest === undefined || at > latest)) latest = at;
    }
    a = b;
  }
  return latest;
}

const DAY_MS = 24 * 60 * 60 * 1000;

// The first instant in (lo, hi] whose offset differs from `offsetAtLo`: a binary search to the millisecond.
function firstInstantWithOffset(tz: string, lo: number, hi: number, offsetAtLo: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (utcOffsetMs(tz, mid) === offsetAtLo) lo = mid;
    else hi = mid;
  }
  return hi;
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

// How far local wall time in `tz` is ahead of UTC at an instant (Intl, so it runs in the workflow sandbox).
function utcOffsetMs(tz: string, atMs: number): number {
  let format = offsetFormats.get(tz);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    offsetFormats.set(tz, format);
  }
  const part: Record<string, number> = {};
  for (const p of format.formatToParts(atMs)) if (p.type !== 'literal') part[p.type] = Number(p.value);
  const wall = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
  return wall - Math.floor(atMs / 1000) * 1000;
}

// hashSeed makes "H" fields deterministic: without it cron-parser seeds them
// from Math.random, and two evaluations of one window would disagree.
function parseCron(cron: string, currentDateMs: number, tz: string) {
  return CronExpressionParser.parse(cron, { currentDate: currentDateMs, tz, hashSeed: cron });
}

function isValidTimeZone(tz: unknown): boolean {
  if (typeof tz !== 'string' || tz.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Data-quality math for the `data-quality` gate: reading CSV text into cells,
 * profiling a column (null rate, non-numeric cells, min/max), counting values
 * outside a range, and the population-stability index (PSI) between a
 * reference sample (the training snapshot or held-out set) and a current one
 * (recent traffic).
 *
 * PSI = Σ (a − e) · ln(a / e) over bins, where e and a are the reference and
 * current shares of each bin. Bins are quantiles of the reference (deciles by
 * default); a share of 0 is clipped to `epsilon` so an empty bin weighs
 * heavily instead of dividing by zero. Rules of thumb: < 0.1 stable,
 * 0.1-0.25 moderate shift, > 0.25 major shift.
 *
 * Pure: no I/O, so the tests check every number by hand.
 */

/** CsvTable is a headed CSV as text cells: the header, and one array of cells per data row. */
export interface CsvTable {
  columns: string[];
  rows: string[][];
  /** 1-based line of each data row in the source text, for messages that point at the cell. */
  lines: number[];
}

/** CsvError says where a CSV text is malformed. */
export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/**
 * parseCsv reads RFC 4180 CSV text (commas, optional "double quotes" with ""
 * escapes, CRLF or LF) with a header row; blank lines are skipped, and a row
 * whose cell count differs from the header's is an error naming its line.
 */
export function parseCsv(text: string): CsvTable {
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let blank = true;
  const endRecord = () => {
    cells.push(cell);
    if (!(blank && cells.length === 1 && cell === '')) records.push({ cells, line: recordLine });
    cells = [];
    cell = '';
    blank = true;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"' && cell === '') {
      quoted = true;
      blank = false;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
      blank = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      cell += ch;
      if (ch.trim() !== '') blank = false;
    }
  }
  if (quoted) throw new CsvError(recordLine, 'a quoted cell is never closed');
  if (cell !== '' || cells.length > 0) endRecord();
  const header = records.shift();
  if (header === undefined) throw new CsvError(1, 'the text is empty; expected a header row and data rows');
  const columns = header.cells.map((c) => c.trim());
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const record of records) {
    if (record.cells.length !== columns.length) {
      throw new CsvError(record.line, `${record.cells.length} cells, but the header has ${columns.length} (${columns.join(', ')})`);
    }
    rows.push(record.cells);
    lines.push(record.line);
  }
  return { columns, rows, lines };
}

// Cells that mean "no value" in the exports people actually produce (pandas, R, SQL dumps).
const NULL_TOKENS = new Set(['', 'na', 'n/a', 'nan', 'null', 'none']);

/** isNullCell says whether a CSV cell means "no value": empty, NA, N/A, NaN, null or None (any case). */
export function isNullCell(cell: string): boolean {
  return NULL_TOKENS.has(cell.trim().toLowerCase());
}

// A plain decimal number: no hex, no "Infinity", no empty string (all of which Number() accepts).
const NUMBER_PATTERN = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** parseNumericCell reads a decimal number from a cell, or returns undefined if the cell is not one. */
export function parseNumericCell(cell: string): number | undefined {
  if (!NUMBER_PATTERN.test(cell)) return undefined;
  const value = Number(cell);
  return Number.isFinite(value) ? value : undefined;
}

/** ColumnProfile is what one column of a table holds: its numbers, nulls, and cells that are neither. */
export interface ColumnProfile {
  column: string;
  rows: number;
  nulls: number;
  /** nulls / rows; 0 for a table with no rows. */
  nullRate: number;
  nonNumeric: number;
  /** The first non-numeric cell, with its line, so a message can point at it. */
  firstNonNumeric: { line: number; cell: string } | null;
  /** The numeric cells, in row order (nulls and non-numeric cells left out). */
  values: number[];
  min: number | null;
  max: number | null;
}

/** profileColumn reads one column of a table; throws if the table has no such column. */
export function profileColumn(table: CsvTable, column: string): ColumnProfile {
  const index = table.columns.indexOf(column);
  if (index === -1) throw new Error(`no column "${column}"; columns: ${table.columns.join(', ')}`);
  const values: number[] = [];
  let nulls = 0;
  let nonNumeric = 0;
  let firstNonNumeric: ColumnProfile['firstNonNumeric'] = null;
  let min = Infinity;
  let max = -Infinity;
  table.rows.forEach((row, r) => {
    const cell = row[index] as string;
    if (isNullCell(cell)) {
      nulls++;
      return;
    }
    const value = parseNumericCell(cell);
    if (value === undefined) {
      nonNumeric++;
      firstNonNumeric ??= { line: table.lines[r] ?? r + 2, cell };
      return;
    }
    values.push(value);
    if (value < min) min = value;
    if (value > max) max = value;
  });
  const rows = table.rows.length;
  return {
    column,
    rows,
    nulls,
    nullRate: rows === 0 ? 0 : nulls / rows,
    nonNumeric,
    firstNonNumeric,
    values,
    min: values.length === 0 ? null : min,
    max: values.length === 0 ? null : max,
  };
}

/** RangeViolations counts the values below a minimum and above a maximum. */
export interface RangeViolations {
  below: number;
  above: number;
  /** The extreme offending values, for the message; null when there are none. */
  lowest: number | null;
  highest: number | null;
}

/** rangeViolations counts values outside [min, max] (either bound optional, both inclusive). */
export function rangeViolations(values: readonly number[], bounds: { min?: number; max?: number }): RangeViolations {
  const out: RangeViolations = { below: 0, above: 0, lowest: null, highest: null };
  for (const v of values) {
    if (bounds.min !== undefined && v < bounds.min) {
      out.below++;
      if (out.lowest === null || v < out.lowest) out.lowest = v;
    }
    if (bounds.max !== undefined && v > bounds.max) {
      out.above++;
      if (out.highest === null || v > out.highest) out.highest = v;
    }
  }
  return out;
}

/**
 * quantileBinEdges are the upper edges of `bins` equal-count bins of the
 * reference: the nearest-rank quantiles k/bins (k = 1 … bins−1), so every edge
 * is a value the reference holds. Repeated edges (discrete columns) collapse,
 * and edges at the reference maximum are dropped so the last bin holds it;
 * a constant column therefore has no edges (one bin).
 */
export function quantileBinEdges(reference: readonly number[], bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`bins must be a whole number >= 2 (got ${bins})`);
  if (reference.length === 0) throw new RangeError('the reference has no values to take bin edges from');
  const sorted = [...reference].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] as number;
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const edge = sorted[Math.max(0, Math.ceil((k * sorted.length) / bins) - 1)] as number;
    if (edge < max && edges[edges.length - 1] !== edge) edges.push(edge);
  }
  return edges;
}

/** binIndex is the bin of a value: the first edge it does not exceed (bins are (edge[i-1], edge[i]]), else the last bin. */
export function binIndex(value: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** binShares is the share of values in each of the edges.length + 1 bins (all zeros for no values). */
export function binShares(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    const i = binIndex(v, edges);
    counts[i] = (counts[i] as number) + 1;
  }
  return counts.map((c) => (values.length === 0 ? 0 : c / values.length));
}

/** DEFAULT_PSI_EPSILON is the share an empty bin is clipped to (0.01%). */
export const DEFAULT_PSI_EPSILON = 1e-4;

/** populationStabilityIndex is Σ (a − e) · ln(a / e) over paired bin shares, each share clipped below at epsilon. */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[], epsilon = DEFAULT_PSI_EPSILON): number {
  if (expected.length !== actual.length) throw new RangeError(`expected has ${expected.length} bins but actual has ${actual.length}`);
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`epsilon must be between 0 and 1 (got ${epsilon})`);
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] as number, epsilon);
    const a = Math.max(actual[i] as number, epsilon);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** PsiOptions choose the binning of a PSI computation. */
export interface PsiOptions {
  bins?: number;
  epsilon?: number;
  /**
   * Give values below the reference minimum and above its maximum their own
   * bins (reference share 0, clipped to epsilon), so values the reference
   * never had (refunds in a purchases-only snapshot) weigh heavily even when
   * they happen to leave the open-ended outer bins' shares unchanged.
   */
  outOfRangeBins?: boolean;
}

/** PsiBin is one bin of a PSI computation: its range, as text such as "(9.78, 15.46]", and both shares. */
export interface PsiBin {
  range: string;
  expected: number;
  actual: number;
}

/** PsiResult is the index with the bins it was computed from. */
export interface PsiResult {
  psi: number;
  bins: PsiBin[];
  /** Current values below the reference minimum and above its maximum. */
  belowReference: number;
  aboveReference: number;
}

/** psiBetween bins the reference by its quantiles and computes the PSI of the current values against it. */
export function psiBetween(reference: readonly number[], current: readonly number[], options: PsiOptions = {}): PsiResult {
  const epsilon = options.epsilon ?? DEFAULT_PSI_EPSILON;
  if (current.length === 0) throw new RangeError('the current sample has no values to compare');
  const edges = quantileBinEdges(reference, options.bins ?? 10);
  let refMin = Infinity;
  let refMax = -Infinity;
  for (const v of reference) {
    if (v < refMin) refMin = v;
    if (v > refMax) refMax = v;
  }
  const below = current.filter((v) => v < refMin);
  const above = current.filter((v) => v > refMax);
  const range = (i: number) => {
    if (edges.length === 0) return 'all values';
    if (i === 0) return `<= ${edges[0]}`;
    if (i === edges.length) return `> ${edges[i - 1]}`;
    return `(${edges[i - 1]}, ${edges[i]}]`;
  };
  const expected = binShares(reference, edges);
  let bins: PsiBin[];
  if (options.outOfRangeBins) {
    const inside = current.filter((v) => v >= refMin && v <= refMax);
    const actual = binShares(inside, edges).map((s) => (s * inside.length) / current.length);
    bins = [
      { range: `< ${refMin} (below the reference)`, expected: 0, actual: below.length / current.length },
      ...expected.map((e, i) => ({ range: range(i), expected: e, actual: actual[i] as number })),
      { range: `> ${refMax} (above the reference)`, expected: 0, actual: above.length / current.length },
    ];
  } else {
    const actual = binShares(current, edges);
    bins = expected.map((e, i) => ({ range: range(i), expected: e, actual: actual[i] as number }));
  }
  const psi = populationStabilityIndex(
    bins.map((b) => b.expected),
    bins.map((b) => b.actual),
    epsilon,
  );
  return { psi, bins, belowReference: below.length, aboveReference: above.length };
}

/**
 * The `data-quality` gate: compares a recent traffic sample (current) with
 * the data the model was built on (reference: the training snapshot or the
 * held-out set) before the model meets that traffic. It checks the schema
 * (expected columns present and numeric in both files), the null rate of each
 * column in the current sample, value ranges from the config, and the
 * population-stability index of each column (domain/data-quality.ts), and
 * reports the numbers it measured in every check.
 */
import path from 'node:path';
import { parseCsv, profileColumn, psiBetween, rangeViolations, type ColumnProfile, type CsvTable } from '../../domain/data-quality';
import type { GateCheck } from '../../domain/thresholds';
import type { VersionDoc } from '../../registry/types';
import { artifactManifest } from '../../lib/dataset-scoring';
import { readAllowedText, type FileAccess } from '../../lib/files';
import { isSandboxRefusal } from '../../lib/sandbox';
import type { GateRun } from '../types';
import { failedVerdict } from '../verdicts';
import type { DataQualityGateConfig } from './schema';

/** DataSample is one CSV file of the comparison, read as text cells. */
export interface DataSample {
  file: string;
  table: CsvTable;
}

/** readDataSample reads a CSV for the data-quality gate from inside the worker's file roots, tolerating nulls and text cells (they are what it counts). */
export async function readDataSample(file: string, access: FileAccess, field: string): Promise<DataSample> {
  const { path: resolved, text } = await readAllowedText(file, field, access);
  try {
    return { file: resolved, table: parseCsv(text) };
  } catch (err) {
    throw new Error(`${resolved}: ${(err as Error).message}`, { cause: err });
  }
}

/** runDataQualityGate checks a traffic sample against a reference: schema, null rates, ranges, PSI. */
export const runDataQualityGate: GateRun<DataQualityGateConfig> = async (ctx, config) => {
  const name = config.name ?? 'data-quality';
  try {
    const [reference, current] = await Promise.all([readDataSample(config.reference, ctx.sandbox.files, 'reference'), readDataSample(config.current, ctx.sandbox.files, 'current')]);
    const chosen = await expectedColumns(config, ctx.candidate, reference, ctx.sandbox.files);
    const checks: GateCheck[] = [schemaCheck('schema_reference', reference, chosen), schemaCheck('schema_current', current, chosen)];
    const profiles = {
      reference: profileColumns(reference, chosen.columns),
      current: profileColumns(current, chosen.columns),
    };
    const currentName = path.basename(current.file);
    const referenceName = path.basename(reference.file);

    for (const column of chosen.columns) {
      const profile = profiles.current.get(column);
      const max = config.maxNullRateByColumn?.[column] ?? config.maxNullRate;
      const metric = `null_rate[${column}]`;
      if (!profile) {
        checks.push({ metric, value: null, threshold: `<= ${max}`, passed: false, reason: `${currentName} has no column ${column}` });
        continue;
      }
      const value = round(profile.nullRate);
      const passed = profile.nullRate <= max;
      checks.push({ metric, value, threshold: `<= ${max}`, passed, reason: `${profile.nulls} of ${profile.rows} cells of ${column} in ${currentName} are empty or NA (${percent(profile.nullRate)} ${passed ? '<=' : '>'} ${percent(max)})` });
    }

    for (const [column, bounds] of Object.entries(config.ranges ?? {})) {
      const profile = profiles.current.get(column);
      const found = profile ? rangeViolations(profile.values, bounds) : null;
      if (bounds.min !== undefined) {
        const metric = `min[${column}]`;
        if (!profile || !found) checks.push({ metric, value: null, threshold: `>= ${bounds.min}`, passed: false, reason: `${currentName} has no column ${column}` });
        else {
          const passed = found.below === 0;
          const detail = passed ? `no value of ${column} is below ${bounds.min}` : `${found.below} of ${profile.values.length} values of ${column} are below ${bounds.min} (lowest ${found.lowest})`;
          checks.push({ metric, value: profile.min, threshold: `>= ${bounds.min}`, passed, reason: `${detail} in ${currentName}` });
        }
      }
      if (bounds.max !== undefined) {
        const metric = `max[${column}]`;
        if (!profile || !found) checks.push({ metric, value: null, threshold: `<= ${bounds.max}`, passed: false, reason: `${currentName} has no column ${column}` });
        else {
          const passed = found.above === 0;
          const detail = passed ? `no value of ${column} is above ${bounds.max}` : `${found.above} of ${profile.values.length} values of ${column} are above ${bounds.max} (highest ${found.highest})`;
          checks.push({ metric, value: profile.max, threshold: `<= ${bounds.max}`, passed, reason: `${detail} in ${currentName}` });
        }
      }
    }

    for (const column of config.psi.columns ?? chosen.columns) {
      const metric = `psi[${column}]`;
      const threshold = `<= ${config.psi.max}`;
      const ref = profiles.reference.get(column);
      const cur = profiles.current.get(column);
      if (!ref || !cur || ref.values.length === 0 || cur.values.length === 0) {
        const missing = !ref ? `${referenceName} has no column ${column}` : !cur ? `${currentName} has no column ${column}` : `${column} has no numeric values in ${ref.values.length === 0 ? referenceName : currentName}`;
        checks.push({ metric, value: null, threshold, passed: false, reason: `cannot compute PSI: ${missing}` });
        continue;
      }
      const result = psiBetween(ref.values, cur.values, { bins: config.psi.bins, epsilon: config.psi.epsilon, outOfRangeBins: config.psi.outOfRangeBins });
      const value = round(result.psi);
      const passed = result.psi <= config.psi.max;
      // The bin that moved most is what a person looks at first.
      const moved = result.bins.reduce((a, b) => (Math.abs(b.actual - b.expected) > Math.abs(a.actual - a.expected) ? b : a));
      const outside = [
        result.belowReference > 0 ? `${result.belowReference} below the reference minimum ${ref.min}` : '',
        result.aboveReference > 0 ? `${result.aboveReference} above the reference maximum ${ref.max}` : '',
      ].filter(Boolean);
      checks.push({
        metric,
        value,
        threshold,
        passed,
        reason:
          `PSI ${value} ${passed ? '<=' : '>'} ${config.psi.max} over ${result.bins.length} bins of ${column} from ${referenceName} (${ref.values.length} values) vs ${currentName} (${cur.values.length} values); ` +
          `largest move in bin ${moved.range}: ${percent(moved.expected)} -> ${percent(moved.actual)}` +
          (outside.length > 0 ? `; ${outside.join(', ')}` : ''),
      });
    }
    return { type: 'data-quality', name, passed: checks.every((c) => c.passed), checks };
  } catch (err) {
    // A refusal is the gate activity's to record and audit.
    if (isSandboxRefusal(err)) throw err;
    return failedVerdict('data-quality', name, `cannot check data quality for ${ctx.candidate.model}@${ctx.candidate.version}: ${(err as Error).message}`);
  }
};

interface ChosenColumns {
  columns: string[];
  /** Where the list came from, for the schema check's reason. */
  source: string;
}

// The columns the config names, else the candidate's model inputs, else whatever the reference has; plus every column a check names.
async function expectedColumns(config: DataQualityGateConfig, candidate: VersionDoc, reference: DataSample, access: FileAccess): Promise<ChosenColumns> {
  let chosen: ChosenColumns;
  if (config.columns) chosen = { columns: config.columns, source: 'the gate config' };
  else {
    const features = await manifestFeatures(candidate, access);
    chosen = features
      ? { columns: features, source: `${candidate.model}@${candidate.version}'s manifest.json` }
      : { columns: reference.table.columns, source: `the header of ${path.basename(reference.file)}` };
  }
  const named = [...Object.keys(config.ranges ?? {}), ...Object.keys(config.maxNullRateByColumn ?? {}), ...(config.psi.columns ?? [])];
  return { columns: [...new Set([...chosen.columns, ...named])], source: chosen.source };
}

// The model's input columns, when its artifact is a local file (inside the file roots) with a manifest beside it.
async function manifestFeatures(candidate: VersionDoc, access: FileAccess): Promise<string[] | undefined> {
  try {
    return (await artifactManifest(candidate, access))?.features;
  } catch {
    return undefined;
  }
}

function profileColumns(sample: DataSample, columns: string[]): Map<string, ColumnProfile> {
  const out = new Map<string, ColumnProfile>();
  for (const column of columns) if (sample.table.columns.includes(column)) out.set(column, profileColumn(sample.table, column));
  return out;
}

// Missing columns, columns with non-numeric cells, and an empty file each count as one problem.
function schemaCheck(metric: string, sample: DataSample, chosen: ChosenColumns): GateCheck {
  const file = path.basename(sample.file);
  const problems: string[] = [];
  if (sample.table.rows.length === 0) problems.push('it has no data rows');
  const missing = chosen.columns.filter((c) => !sample.table.columns.includes(c));
  if (missing.length > 0) problems.push(`missing column${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`);
  for (const column of chosen.columns) {
    if (missing.includes(column)) continue;
    const profile = profileColumn(sample.table, column);
    if (profile.nonNumeric > 0) {
      const first = profile.firstNonNumeric;
      problems.push(`${column} has ${profile.nonNumeric} non-numeric cell${profile.nonNumeric === 1 ? '' : 's'}${first ? ` (line ${first.line}: ${JSON.stringify(first.cell.slice(0, 40))})` : ''}`);
    }
  }
  const expected = `${chosen.columns.length} column${chosen.columns.length === 1 ? '' : 's'} from ${chosen.source}`;
  return {
    metric,
    value: problems.length,
    threshold: '== 0',
    passed: problems.length === 0,
    reason: problems.length === 0 ? `${file} (${sample.table.rows.length} rows) has the ${expected}, all numeric` : `${file} does not match the ${expected}: ${problems.join('; ')}`,
  };
}

// Four decimals: enough to compare, and stable in the release status.
function round(x: number): number {
  return Number(x.toFixed(4));
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

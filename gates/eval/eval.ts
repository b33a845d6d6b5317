/**
 * The `eval` gate: runs the candidate's ONNX artifact (digest verified) on a
 * held-out CSV with onnxruntime-node, computes accuracy, AUC, F1, precision
 * and recall, and checks them against thresholds and against the live
 * version measured on the same rows. Numbers are computed here, never taken
 * from what was registered.
 */
import path from 'node:path';
import { classificationMetrics, type ClassificationMetrics } from '../../domain/model-metrics';
import { checkNoWorseThan, checkThreshold, type GateCheck } from '../../domain/thresholds';
import { columnValues, loadDataset, scoreVersion } from '../../lib/dataset-scoring';
import { isSandboxRefusal } from '../../lib/sandbox';
import type { FileAccess } from '../../lib/files';
import type { VersionDoc } from '../../registry/types';
import type { Dataset } from '../../serving/model-runtime';
import type { GateRun } from '../types';
import { failedVerdict } from '../verdicts';
import type { EvalGateConfig } from './schema';

/** MeasuredVersion is a version's held-out figures, plus how many rows it could not score. */
export interface MeasuredVersion {
  metrics: ClassificationMetrics;
  nonFinite: number;
}

/** measureVersion scores a version and computes its metrics over the rows it scored. */
export async function measureVersion(version: VersionDoc, dataset: Dataset, config: Pick<EvalGateConfig, 'label' | 'features' | 'threshold'>, access: FileAccess): Promise<MeasuredVersion> {
  const labels = columnValues(dataset, config.label);
  const scores = await scoreVersion(version, dataset, { features: config.features, exclude: [config.label] }, access);
  const keep = labels.map((_, i) => i).filter((i) => Number.isFinite(scores[i]));
  return {
    metrics: classificationMetrics(keep.map((i) => labels[i] as number), keep.map((i) => scores[i] as number), config.threshold),
    nonFinite: labels.length - keep.length,
  };
}

/** runEvalGate computes held-out metrics for the candidate (and the live version) and checks them. */
export const runEvalGate: GateRun<EvalGateConfig> = async (ctx, config) => {
  const name = config.name ?? 'eval';
  try {
    const dataset = await loadDataset(config.dataset, ctx.sandbox.files);
    const candidate = await measureVersion(ctx.candidate, dataset, config, ctx.sandbox.files);
    const figures = candidate.metrics as unknown as Record<string, number>;
    const rows = `${dataset.rows.length} rows of ${path.basename(dataset.file)}`;
    const checks: GateCheck[] = [
      {
        metric: 'non_finite_scores',
        value: candidate.nonFinite,
        threshold: '== 0',
        passed: candidate.nonFinite === 0,
        reason: `${candidate.nonFinite} of ${rows} got no finite score`,
      },
    ];
    for (const [metric, comparator] of Object.entries(config.require ?? {})) {
      const check = checkThreshold(metric, round(figures[metric]), comparator);
      checks.push({ ...check, reason: `${check.reason} (on ${rows})` });
    }
    const compared = Object.entries(config.noWorseThanLive ?? {});
    if (compared.length > 0) {
      const live = ctx.live && ctx.live.version !== ctx.candidate.version ? await measureVersion(ctx.live, dataset, config, ctx.sandbox.files) : null;
      const liveFigures = live?.metrics as unknown as Record<string, number> | undefined;
      for (const [metric, maxDrop] of compared) {
        const check = checkNoWorseThan(metric, round(figures[metric]), round(liveFigures?.[metric]), maxDrop, true);
        checks.push(live ? { ...check, reason: `${check.reason} (live ${ctx.live?.version}, same ${rows})` } : check);
      }
    }
    return { type: 'eval', name, passed: checks.every((c) => c.passed), checks };
  } catch (err) {
    // A refusal is the gate activity's to record and audit.
    if (isSandboxRefusal(err)) throw err;
    return failedVerdict('eval', name, `cannot evaluate ${ctx.candidate.model}@${ctx.candidate.version}: ${(err as Error).message}`);
  }
};

// Four decimals: enough to compare, and stable when shown in the release status.
function round(x: number | undefined): number | undefined {
  return x === undefined ? undefined : Number(x.toFixed(4));
}

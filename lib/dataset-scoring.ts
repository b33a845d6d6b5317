/**
 * Dataset scoring shared by the computing gates (eval, bias, data-quality):
 * reading a gate's CSV from the repository, and running a registered
 * version's ONNX artifact (digest verified) over its rows.
 */
import path from 'node:path';
import type { VersionDoc } from '../registry/types';
import { OnnxModel, REPO_ROOT, columnIndex, featureMatrix, readCsvDataset, readManifest, resolveArtifactPath, type Dataset } from '../serving/model-runtime';

/** resolveDatasetPath reads a gate's dataset path from the repository root unless it is absolute. */
export function resolveDatasetPath(file: string): string {
  return path.resolve(REPO_ROOT, file);
}

/** loadDataset reads a gate's CSV dataset. */
export function loadDataset(file: string): Promise<Dataset> {
  return readCsvDataset(resolveDatasetPath(file));
}

/** columnValues is one column of a dataset, by name. */
export function columnValues(dataset: Dataset, name: string): number[] {
  const i = columnIndex(dataset, name);
  return dataset.rows.map((row) => row[i] as number);
}

/**
 * scoreVersion runs a registered version's artifact on a dataset: features
 * from the config, else the model's manifest.json, else every column but
 * those excluded (label, group) — and they must match the model's width.
 */
export async function scoreVersion(version: VersionDoc, dataset: Dataset, options: { features?: string[]; exclude: string[] }): Promise<Float32Array> {
  const file = resolveArtifactPath(version.artifact.uri);
  const model = await OnnxModel.load(file, version.artifact.sha256);
  try {
    const features = options.features ?? (await readManifest(file))?.features ?? dataset.columns.filter((c) => !options.exclude.includes(c));
    if (features.length !== model.width) {
      throw new Error(`${version.model}@${version.version} takes ${model.width} inputs, but ${features.length} feature columns were chosen (${features.join(', ')}): list its input columns under "features"`);
    }
    return await model.predict(featureMatrix(dataset, features));
  } finally {
    await model.release();
  }
}

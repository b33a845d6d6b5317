/**
 * Dataset scoring shared by the computing gates (eval, bias, data-quality):
 * reading a gate's CSV and a version's artifact through the worker's file
 * roots (lib/files.ts), and running the artifact (digest verified on the
 * bytes read) over the dataset's rows.
 */
import path from 'node:path';
import type { VersionDoc } from '../registry/types';
import { OnnxModel, columnIndex, featureMatrix, parseCsvDataset, parseManifest, type Dataset, type ModelManifest } from '../serving/model-runtime';
import { FileRefusedError, readAllowedFile, readAllowedText, resolveAllowedFile, type FileAccess } from './files';

/** loadDataset reads a gate's CSV dataset (relative paths from the repository) from inside the worker's file roots. */
export async function loadDataset(file: string, access: FileAccess, field = 'dataset'): Promise<Dataset> {
  const read = await readAllowedText(file, field, access);
  return parseCsvDataset(read.path, read.text);
}

/** columnValues is one column of a dataset, by name. */
export function columnValues(dataset: Dataset, name: string): number[] {
  const i = columnIndex(dataset, name);
  return dataset.rows.map((row) => row[i] as number);
}

/** artifactManifest reads the manifest.json beside a version's artifact, inside the file roots, or null when there is none. */
export async function artifactManifest(version: VersionDoc, access: FileAccess): Promise<ModelManifest | null> {
  const artifact = await resolveAllowedFile(version.artifact.uri, 'artifact.uri', access);
  return readManifestBeside(artifact.path, access);
}

/**
 * scoreVersion runs a registered version's artifact on a dataset: features
 * from the config, else the model's manifest.json, else every column but
 * those excluded (label, group) — and they must match the model's width.
 */
export async function scoreVersion(version: VersionDoc, dataset: Dataset, options: { features?: string[]; exclude: string[] }, access: FileAccess): Promise<Float32Array> {
  const artifact = await readAllowedFile(version.artifact.uri, 'artifact.uri', access, version.artifact.sha256);
  const model = await OnnxModel.fromBytes(artifact.bytes, version.artifact.sha256, artifact.path);
  try {
    const manifest = options.features ? null : await readManifestBeside(artifact.path, access);
    const features = options.features ?? manifest?.features ?? dataset.columns.filter((c) => !options.exclude.includes(c));
    if (features.length !== model.width) {
      throw new Error(`${version.model}@${version.version} takes ${model.width} inputs, but ${features.length} feature columns were chosen (${features.join(', ')}): list its input columns under "features"`);
    }
    return await model.predict(featureMatrix(dataset, features));
  } finally {
    await model.release();
  }
}

/** readManifestBeside reads manifest.json next to a model file inside the file roots, or null when there is none. */
export async function readManifestBeside(modelFile: string, access: FileAccess): Promise<ModelManifest | null> {
  const file = path.join(path.dirname(modelFile), 'manifest.json');
  try {
    const read = await readAllowedText(file, 'manifest.json', access);
    return parseManifest(read.text, modelFile);
  } catch (err) {
    if (err instanceof FileRefusedError && err.kind === 'missing') return null;
    throw err;
  }
}

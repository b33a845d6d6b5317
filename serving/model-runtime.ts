/**
 * What serving and the computing gates share: finding an artifact from its
 * registry URI, refusing bytes whose sha256 differs from the registered one,
 * running an ONNX model with onnxruntime-node, and reading numeric CSV data.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/** REPO_ROOT is the checkout; relative artifact URIs and dataset paths are read from here. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** ArtifactDigestMismatchError says the bytes found are not the bytes registered; it names the expected digest only, never the one found (a probe of files the worker does not trust). */
export class ArtifactDigestMismatchError extends Error {
  constructor(
    readonly file: string,
    readonly expected: string,
  ) {
    super(`artifact digest mismatch for ${file}: its bytes do not hash to the registered sha256 ${expected}; refusing to load it`);
    this.name = 'ArtifactDigestMismatchError';
  }
}

/** sha256Hex is the lowercase hex sha256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** readVerifiedArtifact reads a file and returns its bytes only if they hash to the expected sha256. */
export async function readVerifiedArtifact(file: string, expectedSha256: string): Promise<Buffer> {
  const bytes = await fs.readFile(file);
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256.toLowerCase()) throw new ArtifactDigestMismatchError(file, expectedSha256);
  return bytes;
}

/** ModelManifest is the optional manifest.json beside a model: its input columns, in order. */
export interface ModelManifest {
  features?: string[];
  label?: string;
  sensitiveColumn?: string;
  threshold?: number;
}

/** readManifest reads manifest.json next to a model file, or returns null when there is none. */
export async function readManifest(modelFile: string): Promise<ModelManifest | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(path.dirname(modelFile), 'manifest.json'), 'utf8');
  } catch {
    return null;
  }
  return parseManifest(text, modelFile);
}

/** parseManifest checks the text of the manifest.json beside a model file. */
export function parseManifest(text: string, modelFile: string): ModelManifest {
  let value: ModelManifest;
  try {
    value = JSON.parse(text) as ModelManifest;
  } catch {
    throw new Error(`manifest.json beside ${modelFile} is not JSON`);
  }
  if (value.features !== undefined && (!Array.isArray(value.features) || !value.features.every((f) => typeof f === 'string'))) {
    throw new Error(`manifest.json beside ${modelFile}: "features" must be a list of column names`);
  }
  return value;
}

/** OnnxModel is a loaded binary classifier: float32 input [N, width], one probability per row out. */
export class OnnxModel {
  private constructor(
    private readonly session: InferenceSession,
    readonly sha256: string,
    readonly width: number,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  /** load verifies the file's digest, then creates an inference session from exactly those bytes. */
  static async load(file: string, sha256: string): Promise<OnnxModel> {
    return OnnxModel.fromBytes(await readVerifiedArtifact(file, sha256), sha256, file);
  }

  /** fromBytes creates an inference session from bytes the caller has already verified against `sha256`. */
  static async fromBytes(bytes: Uint8Array, sha256: string, file: string): Promise<OnnxModel> {
    // One thread each: serving runs one process per environment on small machines.
    const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    const input = session.inputMetadata[0];
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    const width = input && input.isTensor ? input.shape[1] : undefined;
    if (!inputName || !outputName || typeof width !== 'number') {
      await session.release();
      throw new Error(`${file} is not a [N, F] float32 classifier: expected one input with a fixed feature width and one output`);
    }
    return new OnnxModel(session, sha256, width, inputName, outputName);
  }

  /** predict runs the model on row-major rows and returns one probability per row (NaN stays NaN). */
  async predict(rows: ArrayLike<number>[]): Promise<Float32Array> {
    const data = new Float32Array(rows.length * this.width);
    rows.forEach((row, i) => {
      if (row.length !== this.width) throw new RangeError(`row ${i} has ${row.length} values; the model takes ${this.width}`);
      for (let j = 0; j < this.width; j++) data[i * this.width + j] = row[j] as number;
    });
    const out = await this.session.run({ [this.inputName]: new Tensor('float32', data, [rows.length, this.width]) });
    const tensor = out[this.outputName];
    if (!tensor || !(tensor.data instanceof Float32Array)) throw new Error(`model output ${this.outputName} is not a float32 tensor`);
    return tensor.data;
  }

  /** release frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Dataset is a numeric CSV: its header and rows, every cell a number. */
export interface Dataset {
  file: string;
  columns: string[];
  rows: number[][];
}

/** readCsvDataset reads a headed CSV of numbers (no quoting: the files are ours), naming the cell at fault. */
export async function readCsvDataset(file: string): Promise<Dataset> {
  return parseCsvDataset(file, await fs.readFile(file, 'utf8'));
}

/** parseCsvDataset parses the text of a headed CSV of numbers read from `file` (named in errors). */
export function parseCsvDataset(file: string, text: string): Dataset {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header === undefined) throw new Error(`${file} is empty; expected a header row and data rows`);
  const columns = header.split(',').map((c) => c.trim());
  const rows = lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) throw new Error(`${file} line ${i + 2}: ${cells.length} cells, header has ${columns.length}`);
    return cells.map((cell, j) => {
      const value = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(value)) throw new Error(`${file} line ${i + 2}, column ${columns[j]}: the cell is not a number`);
      return value;
    });
  });
  return { file, columns, rows };
}

/** columnIndex finds a column by name, failing with the columns there are. */
export function columnIndex(dataset: Dataset, name: string): number {
  const i = dataset.columns.indexOf(name);
  if (i === -1) throw new Error(`${dataset.file} has no column "${name}"; columns: ${dataset.columns.join(', ')}`);
  return i;
}

/** featureMatrix picks the model's input columns, in order, from every row. */
export function featureMatrix(dataset: Dataset, features: string[]): number[][] {
  const idx = features.map((f) => columnIndex(dataset, f));
  return dataset.rows.map((row) => idx.map((i) => row[i] as number));
}

/**
 * Trains the demo's fraud models and writes them, with their data, under
 * models/fraud/ (or --out <dir>):
 *
 *   node --import tsx models/train.ts [--out <dir>]
 *
 * A labelled synthetic card-transaction dataset comes from a fixed seed
 * (5,000 training rows, 2,000 held-out rows, a 1,000-row sample of live
 * traffic); logistic regression is trained by gradient descent; each model is
 * written as an ONNX ModelProto (MatMul + Add + Sigmoid over float32 [N, 6]).
 * The same seed gives the same bytes on every run.
 *
 *   v1  all six features: the good model.
 *   v2  only `hour` and `account_age_days`, the weakest signals: clearly worse.
 *   v3  v1 plus log(amount) computed inside the graph. It scores best offline,
 *       because fraud really does scale with log(amount), but live traffic
 *       carries refunds (negative amounts) that the training data never had:
 *       Log makes NaN for them, and the serving runtime answers such requests
 *       with an error instead of a made-up probability.
 *
 * metrics.json is measured by running the written ONNX file with
 * onnxruntime-node on the held-out rows, as the eval gate does.
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { classificationMetrics, demographicParityDifference, equalOpportunityDifference } from '../domain/model-metrics';
import { OnnxModel, sha256Hex } from '../serving/model-runtime';

/** FEATURES are the model inputs, in the order of the ONNX input's columns. */
export const FEATURES = ['amount', 'hour', 'velocity_24h', 'merchant_risk', 'account_age_days', 'distance_km'] as const;
/** SEED makes every run produce the same data and models. */
export const SEED = 20240611;

const TRAIN_ROWS = 5000;
const HOLDOUT_ROWS = 2000;
const TRAFFIC_ROWS = 1000;
// Share of live traffic that is refunds (negative amounts), which training never saw.
const REFUND_SHARE = 0.1;
const THRESHOLD = 0.5;

/** Rng is mulberry32, a small seeded PRNG: the same seed gives the same stream everywhere. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** normal draws from N(mean, sd) by Box-Muller. */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** exponential draws from an exponential distribution with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** poisson draws a count with the given mean (Knuth's method; means here are small). */
  poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}

/** Transaction is one generated row: the six features, the sensitive group and the fraud label. */
export interface Transaction {
  features: number[];
  group: number;
  label: number;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * generateTransactions draws rows from one fixed process. Group 1 (30%) has
 * newer accounts and shops further from home, so a model that never sees the
 * group can still treat it differently: what the bias gate measures.
 */
export function generateTransactions(rng: Rng, n: number): Transaction[] {
  const rows: Transaction[] = [];
  for (let i = 0; i < n; i++) {
    const group = rng.next() < 0.3 ? 1 : 0;
    const amount = round(Math.min(5000, Math.exp(rng.normal(3.6, 1.0))), 2);
    const hour = Math.floor(rng.next() * 24);
    const velocity = Math.min(30, rng.poisson(group === 1 ? 2.6 : 2.2));
    const merchantRisk = round(rng.next() ** 2, 3);
    const accountAge = Math.min(3650, Math.round(rng.exponential(group === 1 ? 550 : 800)));
    const distance = round(Math.min(500, rng.exponential(group === 1 ? 30 : 20)), 1);
    // Fraud rises with log(amount), velocity, merchant risk, distance and night hours; falls with account age.
    const logit =
      -2.6 +
      1.8 * (Math.log(amount) - 3.6) +
      0.6 * (velocity - 2) +
      4.0 * (merchantRisk - 0.33) +
      -0.002 * (accountAge - 700) +
      0.025 * (distance - 25) +
      (hour < 6 ? 0.8 : 0) +
      rng.normal(0, 0.3);
    const label = rng.next() < sigmoid(logit) ? 1 : 0;
    rows.push({ features: [amount, hour, velocity, merchantRisk, accountAge, distance], group, label });
  }
  return rows;
}

/** LinearModel is a trained logistic regression over raw inputs (standardisation folded in). */
export interface LinearModel {
  weights: number[];
  bias: number;
  /** Weight on log(amount) when the graph computes it (v3). */
  logAmountWeight?: number;
}

/**
 * trainLogistic fits weights for the chosen columns by full-batch gradient
 * descent on standardised inputs with a little L2, then folds the scaling
 * back into raw-input weights so the graph needs no normalisation step.
 */
export function trainLogistic(x: number[][], y: number[], options: { iterations?: number; learningRate?: number; l2?: number } = {}): { weights: number[]; bias: number } {
  const { iterations = 800, learningRate = 0.5, l2 = 1e-3 } = options;
  const n = x.length;
  const f = x[0]?.length ?? 0;
  const mean = new Array<number>(f).fill(0);
  const sd = new Array<number>(f).fill(0);
  for (const row of x) row.forEach((v, j) => (mean[j]! += v / n));
  for (const row of x) row.forEach((v, j) => (sd[j]! += (v - mean[j]!) ** 2 / n));
  for (let j = 0; j < f; j++) sd[j] = Math.sqrt(sd[j]!) || 1;
  const z = x.map((row) => row.map((v, j) => (v - mean[j]!) / sd[j]!));
  const w = new Array<number>(f).fill(0);
  const rate = y.reduce((a, b) => a + b, 0) / n;
  let b = Math.log(rate / (1 - rate));
  for (let it = 0; it < iterations; it++) {
    const gw = new Array<number>(f).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const row = z[i]!;
      let s = b;
      for (let j = 0; j < f; j++) s += w[j]! * row[j]!;
      const err = sigmoid(s) - y[i]!;
      for (let j = 0; j < f; j++) gw[j]! += (err * row[j]!) / n;
      gb += err / n;
    }
    for (let j = 0; j < f; j++) w[j]! -= learningRate * (gw[j]! + l2 * w[j]!);
    b -= learningRate * gb;
  }
  const weights = w.map((wj, j) => wj / sd[j]!);
  const bias = b - w.reduce((acc, wj, j) => acc + (wj * mean[j]!) / sd[j]!, 0);
  return { weights, bias };
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** buildOnnxModel assembles the ModelProto as a plain object for protobufjs: MatMul + Add (+ Log path for v3) + Sigmoid. */
export function buildOnnxModel(version: string, model: LinearModel, doc: string): Record<string, unknown> {
  const f = FEATURES.length;
  const tensor = (name: string, dims: number[], values: number[]) => ({
    name,
    dims,
    data_type: FLOAT,
    raw_data: Buffer.from(new Float32Array(values).buffer),
  });
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  });
  const initializer = [tensor('W', [f, 1], model.weights), tensor('B', [1], [model.bias])];
  const node = [
    { op_type: 'MatMul', name: 'linear', input: ['features', 'W'], output: ['xw'] },
    { op_type: 'Add', name: 'bias', input: ['xw', 'B'], output: ['logit'] },
  ];
  let logit = 'logit';
  if (model.logAmountWeight !== undefined) {
    // Select the amount column, take its log, weight it, add it to the logit.
    const select = FEATURES.map((name) => (name === 'amount' ? 1 : 0));
    initializer.push(tensor('SELECT_AMOUNT', [f, 1], select), tensor('W_LOG_AMOUNT', [1], [model.logAmountWeight]));
    node.push(
      { op_type: 'MatMul', name: 'select_amount', input: ['features', 'SELECT_AMOUNT'], output: ['amount'] },
      { op_type: 'Log', name: 'log_amount', input: ['amount'], output: ['log_amount'] },
      { op_type: 'Mul', name: 'weight_log_amount', input: ['log_amount', 'W_LOG_AMOUNT'], output: ['log_amount_term'] },
      { op_type: 'Add', name: 'add_log_amount', input: ['logit', 'log_amount_term'], output: ['logit_total'] },
    );
    logit = 'logit_total';
  }
  node.push({ op_type: 'Sigmoid', name: 'probability', input: [logit], output: ['probability'] });
  return {
    ir_version: 8,
    producer_name: 'slipway-models-train',
    producer_version: '1',
    domain: 'dev.slipway.fraud',
    model_version: Number(version.replace(/\D/g, '')) || 1,
    doc_string: doc,
    opset_import: [{ domain: '', version: 13 }],
    metadata_props: [
      { key: 'features', value: JSON.stringify(FEATURES) },
      { key: 'version', value: version },
    ],
    graph: {
      name: `fraud_${version}`,
      node,
      initializer,
      input: [valueInfo('features', ['N', f])],
      output: [valueInfo('probability', ['N', 1])],
    },
  };
}

/** encodeModel serialises a ModelProto object with the vendored onnx-minimal.proto. */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const source = fs.readFileSync(path.join(__dirname, 'onnx-minimal.proto'), 'utf8');
  const ModelProto = protobuf.parse(source, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`invalid ModelProto: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function csv(header: string[], rows: (number | string)[][]): string {
  return `${[header.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`;
}

const r4 = (x: number) => Number(x.toFixed(4));

async function main(): Promise<void> {
  const outFlag = process.argv.indexOf('--out');
  const out = path.resolve(outFlag === -1 ? path.join(__dirname, 'fraud') : (process.argv[outFlag + 1] ?? ''));
  const rng = new Rng(SEED);
  const train = generateTransactions(rng, TRAIN_ROWS);
  const holdout = generateTransactions(rng, HOLDOUT_ROWS);
  const traffic = generateTransactions(rng, TRAFFIC_ROWS).map((t) => {
    const refund = rng.next() < REFUND_SHARE;
    return refund ? { ...t, features: [-(t.features[0] as number), ...t.features.slice(1)] } : t;
  });

  fs.mkdirSync(path.join(out, 'data'), { recursive: true });
  fs.writeFileSync(path.join(out, 'data', 'holdout.csv'), csv([...FEATURES, 'group', 'label'], holdout.map((t) => [...t.features, t.group, t.label])));
  // Live traffic has no labels yet: only what the server receives, plus the group for slicing.
  fs.writeFileSync(path.join(out, 'data', 'traffic-sample.csv'), csv([...FEATURES, 'group'], traffic.map((t) => [...t.features, t.group])));

  const y = train.map((t) => t.label);
  const all = train.map((t) => t.features);
  const v1 = trainLogistic(all, y);
  const weakCols = [FEATURES.indexOf('hour'), FEATURES.indexOf('account_age_days')];
  const v2Fit = trainLogistic(train.map((t) => weakCols.map((j) => t.features[j] as number)), y);
  const v2Weights = FEATURES.map((_, j) => (weakCols.includes(j) ? (v2Fit.weights[weakCols.indexOf(j)] as number) : 0));
  const v3Fit = trainLogistic(train.map((t) => [...t.features, Math.log(t.features[0] as number)]), y);

  const versions: { version: string; model: LinearModel; doc: string }[] = [
    { version: 'v1', model: v1, doc: 'fraud v1: logistic regression on all six features' },
    { version: 'v2', model: { weights: v2Weights, bias: v2Fit.bias }, doc: 'fraud v2: logistic regression on hour and account_age_days only (other weights are 0)' },
    {
      version: 'v3',
      model: { weights: v3Fit.weights.slice(0, FEATURES.length), bias: v3Fit.bias, logAmountWeight: v3Fit.weights[FEATURES.length] as number },
      doc: 'fraud v3: v1 plus log(amount) inside the graph; NaN for amount < 0 (refunds), which training never saw',
    },
  ];

  const holdoutX = holdout.map((t) => t.features);
  const holdoutY = holdout.map((t) => t.label);
  const holdoutGroups = holdout.map((t) => t.group);
  const summary: string[] = [];
  for (const { version, model, doc } of versions) {
    const dir = path.join(out, version);
    fs.mkdirSync(dir, { recursive: true });
    const bytes = encodeModel(buildOnnxModel(version, model, doc));
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, bytes);
    const manifest = { format: 'onnx', features: FEATURES, output: 'probability', label: 'label', sensitiveColumn: 'group', threshold: THRESHOLD, description: doc };
    fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    // Measured on the written file through onnxruntime-node, not from the trainer's memory.
    const onnx = await OnnxModel.load(file, sha256Hex(bytes));
    const scores = await onnx.predict(holdoutX);
    const trafficScores = await onnx.predict(traffic.map((t) => t.features));
    await onnx.release();
    const m = classificationMetrics(holdoutY, scores, THRESHOLD);
    const metrics = { accuracy: r4(m.accuracy), auc: r4(m.auc), f1: r4(m.f1), precision: r4(m.precision), recall: r4(m.recall) };
    fs.writeFileSync(path.join(dir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    const dp = demographicParityDifference(holdoutGroups, scores, THRESHOLD);
    const eo = equalOpportunityDifference(holdoutY, holdoutGroups, scores, THRESHOLD);
    const nonFinite = trafficScores.filter((s) => !Number.isFinite(s)).length;
    summary.push(
      `${version}  ${String(bytes.length).padStart(5)} B  sha256 ${sha256Hex(bytes).slice(0, 12)}…  accuracy ${metrics.accuracy}  auc ${metrics.auc}  f1 ${metrics.f1}` +
        `  parity gap ${dp.difference.toFixed(4)}  opportunity gap ${eo.difference.toFixed(4)}  traffic rows without a finite score ${nonFinite}/${traffic.length}`,
    );
  }
  const fraudRate = (rows: Transaction[]) => (rows.reduce((a, t) => a + t.label, 0) / rows.length).toFixed(3);
  process.stdout.write(`wrote ${out}\nfraud rate: train ${fraudRate(train)}, holdout ${fraudRate(holdout)}\n${summary.join('\n')}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`train: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

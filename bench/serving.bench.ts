/**
 * The local model server: prediction throughput and p99 through HTTP (one
 * connection and eight), and the cost of a 50% canary split, beside calling
 * onnxruntime-node directly in this process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localTarget } from '../targets/local/local-target';
import { loadTrafficRows } from '../demo/traffic';
import { connectRegistryDb } from '../registry/db';
import { Registry } from '../registry/registry';
import { OnnxModel, REPO_ROOT, readManifest, sha256Hex } from '../serving/model-runtime';
import { LocalServingSupervisor } from '../serving/supervisor';
import { type BenchContext, type BenchReport, dbUri, log, ms, now, rate, ratio, summarize } from './support';

const modelFile = (v: string) => path.join(REPO_ROOT, 'models', 'fraud', v, 'model.onnx');

/** servingBench measures the local serving target against in-process inference. */
export async function servingBench(ctx: BenchContext): Promise<BenchReport> {
  const n = ctx.quick ? 500 : 3000;
  // Refund rows make v3 fail; the throughput runs use the others so every request does the same work.
  const rows = (await loadTrafficRows()).filter((r) => (r.amount ?? 0) >= 0);
  const features = (await readManifest(modelFile('v1')))?.features ?? Object.keys(rows[0]!);
  const arrays = rows.map((r) => features.map((f) => r[f] ?? 0));

  // Baseline: onnxruntime-node in this process, one row per call.
  const model = await OnnxModel.load(modelFile('v1'), sha256Hex(fs.readFileSync(modelFile('v1'))));
  const inProcess: number[] = [];
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const s = now();
    await model.predict([arrays[i % arrays.length]!]);
    inProcess.push(now() - s);
  }
  const inProcessRate = n / ((now() - t0) / 1000);
  await model.release();

  const registryDb = await connectRegistryDb(dbUri(ctx.mongodbUri, 'slipway_bench_serving'));
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-serving-'));
  const supervisor = new LocalServingSupervisor({ runDir });
  try {
    const registry = new Registry(registryDb.db);
    await registry.ensureIndexes();
    const name = `serving-${Date.now()}`;
    for (const v of ['v1', 'v3']) {
      await registry.registerVersion({ model: name, version: v, artifact: { uri: `models/fraud/${v}/model.onnx`, sha256: sha256Hex(fs.readFileSync(modelFile(v))), format: 'onnx' } }, 'bench');
    }
    const target = localTarget({ registry, supervisor });
    const base = { releaseId: 'bench', model: name, env: 'prod', by: 'bench' };
    await target.deploy({ ...base, opKey: 'bench-v1', version: 'v1', weight: 100 });
    const server = await supervisor.ensure(name, 'prod');

    const run = async (concurrency: number) => {
      const latencies: number[] = [];
      let next = 0;
      const start = now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            const i = next++;
            const s = now();
            await server.client.predict([rows[i % rows.length]!]);
            latencies.push(now() - s);
          }
        }),
      );
      return { rate: n / ((now() - start) / 1000), stats: summarize(latencies) };
    };
    await run(4); // warm-up
    const one = await run(1);
    const eight = await run(8);
    await target.deploy({ ...base, opKey: 'bench-v3', version: 'v3', weight: 50 });
    const split = await run(8);
    log(`serving: in-process ${inProcessRate.toFixed(0)}/s; server 1 conn ${one.rate.toFixed(0)}/s, 8 conns ${eight.rate.toFixed(0)}/s, 8 conns with a 50% split ${split.rate.toFixed(0)}/s`);
    const inStats = summarize(inProcess);
    return {
      name: 'serving',
      rows: [
        { bench: 'serving', measure: `predictions, 1 row per call, ${n} calls: throughput, 1 connection`, slipway: rate(one.rate, 'req/s'), baseline: `${rate(inProcessRate, 'calls/s')} (onnxruntime in-process)`, ratio: ratio(inProcessRate, one.rate), aim: '—' },
        { bench: 'serving', measure: 'predictions: p99 latency, 1 connection', slipway: ms(one.stats.p99), baseline: `${ms(inStats.p99)} (in-process)`, ratio: ratio(one.stats.p99, inStats.p99), aim: '—' },
        { bench: 'serving', measure: 'predictions: throughput, 8 connections', slipway: rate(eight.rate, 'req/s'), baseline: `${rate(inProcessRate, 'calls/s')} (in-process, sequential)`, ratio: ratio(inProcessRate, eight.rate), aim: '—' },
        { bench: 'serving', measure: 'traffic split overhead: 8 connections, v1 stable + v3 canary at 50%', slipway: `${rate(split.rate, 'req/s')}, p99 ${ms(split.stats.p99)}`, baseline: `${rate(eight.rate, 'req/s')}, p99 ${ms(eight.stats.p99)} (v1 alone)`, ratio: ratio(eight.rate, split.rate), aim: '—' },
      ],
      notes: [
        'Ratios for throughput are baseline ÷ server (how many times slower the HTTP path is); the split row is v1-alone ÷ split.',
        'v3\'s graph is larger than v1\'s (it adds Log(amount)), so the split row includes that model cost as well as the split itself. Refund rows are left out so no request fails.',
      ],
    };
  } finally {
    await supervisor.stopAll();
    await registryDb.db.dropDatabase().catch(() => undefined);
    await registryDb.close();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

/**
 * The demo: three real model versions through a real pipeline on the local
 * serving target, with live traffic. v1 is promoted dev → staging → prod
 * after an approval (Web UI or CLI); v2 stops at its eval gate before any
 * deploy; v3 passes its gates, fails canary analysis in prod under live
 * traffic, and is rolled back to v1 automatically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReleaseService } from '../client/releases';
import { REPO_ROOT, sha256Hex } from '../serving/model-runtime';
import type { LocalServingSupervisor } from '../serving/supervisor';
import { TrafficGenerator, loadTrafficRows } from './traffic';

/** DEMO_PIPELINE_YAML is the pipeline the demo releases run. */
export const DEMO_PIPELINE_YAML = `name: demo
concurrency: queue
stages:
  - env: dev
    target: local
    healthSource: local
    gates:
      - type: eval
        dataset: models/fraud/data/holdout.csv
        require: { auc: ">= 0.8", f1: ">= 0.55" }
        noWorseThanLive: { auc: 0.02 }
      - type: bias
        dataset: models/fraud/data/holdout.csv
        maxDemographicParityDiff: 0.1
        maxEqualOpportunityDiff: 0.1
  - env: staging
    target: local
    healthSource: local
    bake: 6s
    # Staging watches latency; error rates are judged on prod's live traffic.
    healthChecks: { interval: 3s, maxLatencyP99Ms: 250 }
  - env: prod
    target: local
    healthSource: local
    approval: { required: 1, approvers: [alice, bob], timeout: 24h }
    strategy: { canary: { steps: [50, 100], interval: 6s, analysis: { maxErrorRate: 0.02 } } }
`;

/** DemoOptions wire the demo to a release service and the worker's model-server supervisor. */
export interface DemoOptions {
  service: ReleaseService;
  supervisor: LocalServingSupervisor;
  /** Where the demo may write its pipeline file. */
  workDir: string;
  model?: string;
  /** Approve v1 as this user instead of waiting for a person (tests, unattended runs). */
  autoApproveAs?: string;
  print?: (line: string) => void;
}

/** DemoOutcome is how each release ended and what is live where afterwards. */
export interface DemoOutcome {
  model: string;
  statuses: Record<'v1' | 'v2' | 'v3', string>;
  live: Record<string, string | null>;
  traffic: Record<string, number>;
}

/** runDemo registers v1–v3, sends live traffic, and runs the three releases in turn. */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const { service, supervisor } = options;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const model = options.model ?? 'fraud';
  const pipelinesDir = path.join(options.workDir, 'demo-pipelines');
  fs.mkdirSync(pipelinesDir, { recursive: true });
  fs.writeFileSync(path.join(pipelinesDir, 'demo.yaml'), DEMO_PIPELINE_YAML);
  const demoService = service.withPipelines(pipelinesDir);

  for (const v of ['v1', 'v2', 'v3'] as const) {
    const file = path.join(REPO_ROOT, 'models', 'fraud', v, 'model.onnx');
    const metrics = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'metrics.json'), 'utf8')) as Record<string, number>;
    await service.registry.registerVersion(
      { model, version: v, artifact: { uri: `models/fraud/${v}/model.onnx`, sha256: sha256Hex(fs.readFileSync(file)), format: 'onnx' }, metrics },
      'demo',
    );
  }
  print(`demo: registered ${model} v1 (good), v2 (worse offline), v3 (fails on live refunds)`);
  const traffic = new TrafficGenerator(supervisor, model, await loadTrafficRows(), ['dev', 'staging', 'prod'], 30 * 60_000);
  traffic.start();
  const statuses = {} as DemoOutcome['statuses'];
  try {
    for (const v of ['v1', 'v2', 'v3'] as const) {
      const started = await demoService.start({ model, version: v, pipeline: 'demo', requestedBy: 'demo' });
      print(`demo: releasing ${model}@${v}: ${started.releaseId}`);
      let asked = false;
      for (;;) {
        const state = await demoService.status(started.releaseId);
        if (state.endedAt) break;
        if (state.status === 'awaiting_approval' && !asked) {
          asked = true;
          print(`demo: ${v} waits for approval in prod. Approve it either way:`);
          print(`        npx slipway approve ${started.releaseId} --stage prod --as alice`);
          print(`        Web UI → ${started.workflowId} → Send a Signal "approve" with {"stage":"prod","approver":"alice"}`);
          if (options.autoApproveAs) await demoService.approve({ releaseId: started.releaseId, stage: 'prod', approver: options.autoApproveAs });
        }
        await sleep(500);
      }
      const final = await demoService.status(started.releaseId);
      statuses[v] = final.status;
      print(`demo: ${model}@${v} ended ${final.status}: ${final.summary}`);
    }
  } finally {
    await traffic.stop();
  }
  const live: Record<string, string | null> = {};
  for (const env of ['dev', 'staging', 'prod']) live[env] = (await service.registry.getLive(model, env))?.version ?? null;
  print(`demo: live now — ${Object.entries(live).map(([env, v]) => `${env}: ${v ?? '(none)'}`).join(', ')}`);
  return { model, statuses, live, traffic: traffic.tally };
}

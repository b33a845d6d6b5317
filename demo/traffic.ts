/**
 * Live traffic for the local model servers: rows of the shipped traffic
 * sample, one per request, to every environment's server that is up, until
 * stopped (bounded in time and count); answers are tallied by env and version.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, readCsvDataset } from '../serving/model-runtime';
import type { LocalServingSupervisor } from '../serving/supervisor';

/** loadTrafficRows reads the traffic sample as feature rows (the sensitive column left out). */
export async function loadTrafficRows(): Promise<Record<string, number>[]> {
  const sample = await readCsvDataset(path.join(REPO_ROOT, 'models', 'fraud', 'data', 'traffic-sample.csv'));
  const features = sample.columns.filter((c) => c !== 'group');
  return sample.rows.map((r) => Object.fromEntries(features.map((f) => [f, r[sample.columns.indexOf(f)] as number])));
}

/** TrafficGenerator posts live traffic to a model's servers in the given environments. */
export class TrafficGenerator {
  readonly tally: Record<string, number> = {};
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly supervisor: LocalServingSupervisor,
    private readonly model: string,
    private readonly rows: Record<string, number>[],
    private readonly envs: string[] = ['dev', 'prod'],
    private readonly maxMs = 120_000,
  ) {}

  /** start begins sending in the background. */
  start(): void {
    this.running = this.loop();
  }

  /** stop ends the traffic and waits for the last request. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const deadline = Date.now() + this.maxMs;
    for (let i = 0; !this.stopped && i < 1_000_000 && Date.now() < deadline; i++) {
      for (const env of this.envs) {
        const server = await this.supervisor.find(this.model, env);
        if (!server) continue;
        const row = this.rows[i % this.rows.length] as Record<string, number>;
        const key = await server.client.predict([row]).then(
          (answer) => `${env} ${answer.version}`,
          () => `${env} error`,
        );
        this.tally[key] = (this.tally[key] ?? 0) + 1;
      }
      await sleep(1);
    }
  }
}

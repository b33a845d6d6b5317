/**
 * Slipway's own Prometheus metrics: releases and deployments by outcome,
 * gate failures by type, approval wait, rollbacks and lead time. Counted once
 * per release, when its final snapshot is first stored.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReleaseState } from '../workflows/release/api';

const HOUR = 3600;

/** SlipwayMetrics holds the metric instruments in their own registry. */
export class SlipwayMetrics {
  readonly registry = new Registry();
  readonly releases = new Counter({ name: 'slipway_releases_finished_total', help: 'Releases that ended, by final status', labelNames: ['status'], registers: [this.registry] });
  readonly deployments = new Counter({
    name: 'slipway_deployments_total',
    help: 'Stage deployments, by environment and outcome (succeeded, rolled_back, failed)',
    labelNames: ['env', 'outcome'],
    registers: [this.registry],
  });
  readonly gateFailures = new Counter({ name: 'slipway_gate_failures_total', help: 'Failed gates, by gate type', labelNames: ['gate_type'], registers: [this.registry] });
  readonly rollbacks = new Counter({ name: 'slipway_rollbacks_total', help: 'Deployments undone by compensation, by environment', labelNames: ['env'], registers: [this.registry] });
  readonly approvalWait = new Histogram({
    name: 'slipway_approval_wait_seconds',
    help: 'Time from a stage asking for approval to its quorum, by environment',
    labelNames: ['env'],
    buckets: [60, 300, 900, HOUR, 4 * HOUR, 24 * HOUR, 72 * HOUR],
    registers: [this.registry],
  });
  readonly leadTime = new Histogram({
    name: 'slipway_lead_time_seconds',
    help: 'Lead time for changes: code commit to live in the last stage of the pipeline',
    buckets: [HOUR, 4 * HOUR, 24 * HOUR, 7 * 24 * HOUR, 30 * 24 * HOUR],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'slipway_process_' });
  }

  /** observeFinishedRelease counts a release that just ended; codeCommittedAt gives its lead time. */
  observeFinishedRelease(state: ReleaseState, codeCommittedAt?: string): void {
    this.releases.inc({ status: state.status });
    for (const stage of state.stages) {
      for (const gate of stage.gates) if (!gate.passed) this.gateFailures.inc({ gate_type: gate.type });
      if (stage.deployedVersion) {
        const undone = state.compensations.some((c) => c.env === stage.env && c.status === 'done' && !c.error);
        this.deployments.inc({ env: stage.env, outcome: undone ? 'rolled_back' : stage.status === 'succeeded' ? 'succeeded' : 'failed' });
      }
      if (stage.awaitingApprovalSince && stage.approvedAt) {
        this.approvalWait.observe({ env: stage.env }, (Date.parse(stage.approvedAt) - Date.parse(stage.awaitingApprovalSince)) / 1000);
      }
    }
    for (const c of state.compensations) if (c.status === 'done' && !c.error) this.rollbacks.inc({ env: c.env });
    const last = state.stages.at(-1);
    if (state.status === 'succeeded' && codeCommittedAt && last?.endedAt) {
      const seconds = (Date.parse(last.endedAt) - Date.parse(codeCommittedAt)) / 1000;
      if (seconds >= 0) this.leadTime.observe(seconds);
    }
  }
}

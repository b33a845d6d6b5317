/**
 * Evidence bundles: one signed JSON document that says what a release did and
 * why it was allowed — the release state, the version's digest and lineage,
 * the pinned pipeline, gate verdicts, approvals, deployments, compensations,
 * the health reports posted for the version while it ran (with who reported
 * them) and the release's audit events with their hashes. Shared by
 * `slipway release evidence` and GET /releases/:id/evidence (docs/evidence.md).
 */
import type { ReleaseState } from '../domain/release';
import type { AuditSigner } from './audit';
import { NotFoundError } from './errors';
import type { Registry } from './registry';
import { ReleaseStore } from './releases';

// Enough reports for any bake or canary; more would only swell the bundle.
const MAX_HEALTH_REPORTS = 500;

/** EVIDENCE_SCHEMA names the body's format; EVIDENCE_CONTEXT is its signing context (both on the wire: never change them). */
export const EVIDENCE_SCHEMA = 'slipway.evidence/v1';
/** EVIDENCE_CONTEXT is the signDocument context evidence bodies are signed under. */
export const EVIDENCE_CONTEXT = 'slipway-evidence-v1';

/** EvidenceBundle is the signed document: `signature` is null when no signing key was configured. */
export interface EvidenceBundle {
  body: Record<string, unknown>;
  signature: { keyId: string; signature: string } | null;
  /** The signer's raw Ed25519 public key (base64); verify against a key you trust, not just this one. */
  publicKey: string | null;
}

/** buildEvidence gathers a release's evidence from the registry and signs it when a signer is given. */
export async function buildEvidence(
  registry: Registry,
  release: ReleaseState,
  options: { signer?: AuditSigner; clock?: () => Date } = {},
): Promise<EvidenceBundle> {
  const clock = options.clock ?? (() => new Date());
  const version = await registry.getVersion(release.model, release.version);
  const pipeline = await registry.getPipeline(release.pipelineHash);
  if (!pipeline) throw new NotFoundError('release', `${release.releaseId}'s pipeline ${release.pipelineHash}`, 'the pinned pipeline is missing from the registry');
  const history = await registry.deploymentHistory(release.model, undefined, 500);
  const envs = [...new Set(release.stages.map((s) => s.env))];
  const healthReports = await new ReleaseStore(registry.db).health
    .find(
      { model: release.model, version: release.version, env: { $in: envs }, at: { $gte: new Date(release.startedAt), ...(release.endedAt ? { $lte: new Date(release.endedAt) } : {}) } },
      { sort: { at: 1 }, limit: MAX_HEALTH_REPORTS, projection: { _id: 0 } },
    )
    .toArray();
  const audit = await registry.audit.events.find({ chain: release.model, 'subject.releaseId': release.releaseId }).sort({ seq: 1 }).toArray();
  const body = {
    schema: EVIDENCE_SCHEMA,
    release,
    version: {
      model: version.model,
      version: version.version,
      artifact: version.artifact,
      sha256: version.artifact.sha256,
      lineage: { codeCommit: version.codeCommit ?? null, codeCommittedAt: version.codeCommittedAt ?? null, dataSnapshot: version.dataSnapshot ?? null, promptVersion: version.promptVersion ?? null, parentVersion: version.parentVersion ?? null },
      metrics: version.metrics ?? {},
      contentHash: version.contentHash,
      registeredBy: version.registeredBy,
      registeredAt: version.registeredAt,
    },
    pipeline: { name: pipeline.name, hash: pipeline._id, source: pipeline.source },
    gates: release.stages.map((s) => ({ env: s.env, gates: s.gates })),
    approvals: release.stages.filter((s) => s.quorum !== null).map((s) => ({ env: s.env, quorum: s.quorum, approvedAt: s.approvedAt ?? null, rejectedBy: s.rejectedBy })),
    deployments: history.filter((d) => d.releaseId === release.releaseId).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.revision - b.revision),
    compensations: release.compensations,
    healthReports: healthReports.map((r) => ({ env: r.env, at: r.at, healthy: r.healthy, errorRate: r.errorRate ?? null, latencyP99Ms: r.latencyP99Ms ?? null, source: r.source, reportedBy: r.reportedBy ?? null })),
    audit: audit.map(({ _id, ...event }) => event),
    generatedAt: clock(),
  };
  // Plain JSON first (Dates become ISO strings), so what is signed is exactly what a reader parses.
  const plain = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  if (!options.signer) return { body: plain, signature: null, publicKey: null };
  return { body: plain, signature: options.signer.signDocument(EVIDENCE_CONTEXT, plain), publicKey: options.signer.publicKey };
}

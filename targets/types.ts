/**
 * The deploy-target interface. Every call is idempotent by its opKey, so a
 * retried activity (worker crash mid-deploy) deploys once.
 */

/** DeployRequest asks a target to serve a version in an environment. */
export interface DeployRequest {
  opKey: string;
  releaseId: string;
  model: string;
  env: string;
  version: string;
  by: string;
  /** Traffic share for canary steps (1-100); targets without weights ignore it only at 100. */
  weight?: number;
  /** Registered name of the target doing this deploy (the deploy activity fills it in): the live pointer's move records it. */
  target?: string;
}

/** UndoRequest asks a target to put back what was live before a deploy. */
export interface UndoRequest {
  opKey: string;
  releaseId: string;
  model: string;
  env: string;
  /** The version the failed deploy made live. */
  failedVersion: string;
  by: string;
  reason: string;
  /** Registered name of the target doing this undo, recorded on the pointer's move like a deploy's. */
  target?: string;
}

/** DeployTarget is where versions get served. */
export interface DeployTarget {
  name: string;
  /** Whether canary steps can split traffic on this target. */
  supportsWeights: boolean;
  deploy(req: DeployRequest): Promise<{ previousVersion: string | null }>;
  /** undo restores the last known good version; it is a no-op if the environment has moved on since. */
  undo(req: UndoRequest): Promise<{ restoredTo: string | null; skipped?: string }>;
}

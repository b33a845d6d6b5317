/**
 * The `local` target: serves versions from a model server process per
 * (model, environment) that this worker supervises (serving/). Canary
 * steps split traffic on the server; once a version takes all traffic, the
 * registry's live pointer follows, so `slipway deployments` and the next
 * release's gates see what really serves.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FileRefusedError, fileAccessFromSettings, resolveAllowedFile, type FileAccess } from '../../lib/files';
import { ModelServerError, type LocalServingSupervisor } from '../../serving/supervisor';
import { registryTarget } from '../registry/registry-target';
import type { DeployTarget } from '../types';
import { FailureType } from '../../domain/failures';
import type { ModelRegistry } from '../../registry/types';

/** LocalTargetOptions are what the local target needs: the registry (artifacts, live pointers) and the supervisor. */
export interface LocalTargetOptions {
  registry: ModelRegistry;
  supervisor: LocalServingSupervisor;
  /** Where artifacts may be read from (SLIPWAY_FILE_ROOTS, SLIPWAY_FILE_MAX_BYTES); relative URIs are read from its base, the repository. */
  files?: FileAccess;
}


// Server answers that retrying cannot change.
const NON_RETRYABLE: Record<number, FailureType> = { 400: FailureType.InvalidInput, 404: FailureType.ArtifactNotFound, 409: FailureType.ArtifactDigestMismatch, 422: FailureType.InvalidModel };

/** localTarget creates the `local` deploy target; deploy and undo are idempotent by opKey. */
export function localTarget(options: LocalTargetOptions): DeployTarget {
  const pointers = registryTarget(options.registry);
  return {
    name: 'local',
    supportsWeights: true,
    async deploy(req) {
      const version = await options.registry.getVersion(req.model, req.version);
      let file: string;
      try {
        // The server reads the real path inside the roots and checks the digest of the bytes it loads.
        file = (await resolveAllowedFile(version.artifact.uri, 'artifact.uri', options.files ?? fileAccessFromSettings({}))).path;
      } catch (err) {
        if (err instanceof FileRefusedError) {
          throw ApplicationFailure.nonRetryable(`${req.model}@${req.version} not deployed to ${req.env}: ${err.message}`, err.kind === 'missing' ? FailureType.ArtifactNotFound : FailureType.InvalidInput);
        }
        throw err;
      }
      const server = await options.supervisor.ensure(req.model, req.env);
      let served;
      try {
        served = await server.client.deploy({ opKey: req.opKey, version: req.version, artifact: { path: file, sha256: version.artifact.sha256 }, weight: req.weight ?? 100 });
      } catch (err) {
        const type = err instanceof ModelServerError ? NON_RETRYABLE[err.status] : undefined;
        if (type) throw ApplicationFailure.nonRetryable(`${req.model}@${req.version} not deployed to ${req.env}: ${(err as Error).message}`, type);
        throw err;
      }
      // The live pointer moves when the version takes all traffic; a canary step leaves it on the stable version.
      if (served.servedAs === 'stable') await pointers.deploy({ ...req, target: req.target ?? 'local' });
      return { previousVersion: served.previousVersion };
    },
    async undo(req) {
      const server = await options.supervisor.ensure(req.model, req.env);
      const served = await server.client.undo({ opKey: req.opKey, failedVersion: req.failedVersion });
      // Undoes the pointer move if the deploy reached 100%; a canary that never did has nothing to undo there.
      const moved = await pointers.undo({ ...req, target: req.target ?? 'local' });
      if (served.skipped) return moved.skipped ? { restoredTo: null, skipped: served.skipped } : { restoredTo: moved.restoredTo };
      return { restoredTo: served.restoredTo };
    },
  };
}

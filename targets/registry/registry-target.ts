/**
 * The `registry` target: deploying moves the environment's live pointer, and
 * services that resolve "fraud@prod" follow it.
 */
import type { DeployTarget } from '../types';
import type { ModelRegistry } from '../../registry/types';

/** registryTarget creates the target that moves live pointers in the registry. */
export function registryTarget(registry: ModelRegistry): DeployTarget {
  return {
    name: 'registry',
    supportsWeights: false,
    async deploy(req) {
      const { pointer } = await registry.moveLivePointer({
        model: req.model,
        env: req.env,
        version: req.version,
        opKey: req.opKey,
        by: req.by,
        reason: `release ${req.releaseId}`,
        releaseId: req.releaseId,
        // Local and webhook targets move the pointer through here: record whose deploy it was.
        target: req.target ?? 'registry',
      });
      return { previousVersion: pointer.previousVersion };
    },
    async undo(req) {
      const undoKey = `${req.opKey}:undo`;
      const alreadyUndone = await registry.findMove(undoKey);
      if (alreadyUndone) return { restoredTo: alreadyUndone.version };
      const deployed = await registry.findMove(req.opKey);
      if (!deployed) return { restoredTo: null, skipped: 'the deploy never happened; nothing to undo' };
      await registry.markDeploymentFailed(req.opKey, req.by, req.reason);
      const live = await registry.getLive(req.model, req.env);
      // Someone else has deployed since: putting "our" previous version back would clobber them.
      if (!live || live.opKey !== req.opKey) {
        return { restoredTo: null, skipped: `${req.model}@${req.env} has moved on to ${live?.version ?? 'nothing'} since; left as is` };
      }
      const good = await registry.lastKnownGood(req.model, req.env, { excludingVersion: req.failedVersion, beforeRevision: deployed.revision });
      await registry.moveLivePointer({
        model: req.model,
        env: req.env,
        version: good?.version ?? null,
        opKey: undoKey,
        by: req.by,
        reason: req.reason,
        releaseId: req.releaseId,
        expectedRevision: live.revision,
        target: req.target ?? 'registry',
      });
      return { restoredTo: good?.version ?? null };
    },
  };
}

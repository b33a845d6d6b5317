/**
 * The names the registered deploy targets answer to (targets/index.ts), as a
 * pure list: pipelines are checked against it when they are applied to the
 * server, where building the targets themselves (serving, HTTP) has no place.
 * targets/targets.test.ts keeps it in step with the factories.
 */

/** TARGET_NAMES are the names a stage may put under `target:`. */
export const TARGET_NAMES: readonly string[] = ['registry', 'local', 'webhook'];

/**
 * WEIGHTED_TARGETS are the built-in targets that split traffic by a deploy's
 * weight (their `supportsWeights`): `local` serves the canary beside the
 * stable version on its model server, `webhook` sends the weight to the
 * platform, which the protocol asks to split. `registry` moves one pointer,
 * so a canary there would be 100% at once; pipelines asking for one are
 * refused on apply. Custom targets declare theirs in `extraPlugins`.
 */
export const WEIGHTED_TARGETS: readonly string[] = ['local', 'webhook'];

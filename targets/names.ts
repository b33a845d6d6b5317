/**
 * The names the registered deploy targets answer to (targets/index.ts), as a
 * pure list: pipelines are checked against it when they are applied to the
 * server, where building the targets themselves (serving, HTTP) has no place.
 * targets/targets.test.ts keeps it in step with the factories.
 */

/** TARGET_NAMES are the names a stage may put under `target:`. */
export const TARGET_NAMES: readonly string[] = ['registry', 'local', 'webhook'];

/**
 * The names the registered health sources answer to (health/index.ts), as a
 * pure list for checking pipelines when they are applied to the server.
 * health/health.test.ts keeps it in step with the factories.
 */

/** HEALTH_SOURCE_NAMES are the names a stage may put under `healthSource:`. */
export const HEALTH_SOURCE_NAMES: readonly string[] = ['registry', 'local'];

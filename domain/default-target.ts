/**
 * The target a stage deploys to when it names none, in a module of its own so
 * the release workflow and the checks on apply share it without the workflow
 * bundle loading the pipeline parser.
 */

/** DEFAULT_TARGET deploys a stage that names no target. */
export const DEFAULT_TARGET = 'registry';

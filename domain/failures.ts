/**
 * The closed vocabulary of failures: every Temporal failure type Slipway
 * throws or names in a retry policy, and how each registry error surfaces in
 * an activity, the HTTP API and the CLI. Pure, so workflow code may import it.
 *
 * The type strings are on the wire and in recorded histories: never change one.
 */

/** FailureType names every ApplicationFailure type Slipway throws; the values are wire strings. */
export const FailureType = {
  // Registry errors an activity turns into failures (see REGISTRY_FAILURES).
  InvalidInput: 'InvalidInput',
  ModelVersionNotFound: 'ModelVersionNotFound',
  VersionConflict: 'VersionConflict',
  ProtectedAlias: 'ProtectedAlias',
  /** Not thrown by name: Temporal types a plain thrown error by its class name, and this one is retried. */
  ConcurrentUpdate: 'ConcurrentUpdateError',
  // The worker's wiring: a pipeline or release names something this worker lacks.
  UnknownTarget: 'UnknownTarget',
  UnknownHealthSource: 'UnknownHealthSource',
  Misconfigured: 'Misconfigured',
  // A gate could not ask its service (timeout, 5xx, refused): retried by the gate profile.
  GateUnavailable: 'GateUnavailable',
  // Rollback.
  NoRollbackTarget: 'NoRollbackTarget',
  /** A named rollback target that was never live (healthy) in the environment: only a release may put it there. */
  RollbackTargetNotGood: 'RollbackTargetNotGood',
  // Deploy targets: the platform finished the operation and it failed.
  DeployFailed: 'DeployFailed',
  UndoFailed: 'UndoFailed',
  // The webhook target's conversation with a platform.
  WebhookUnavailable: 'WebhookUnavailable',
  WebhookTimeout: 'WebhookTimeout',
  WebhookRejected: 'WebhookRejected',
  WebhookProtocolError: 'WebhookProtocolError',
  // The local target's model server refused the artifact.
  ArtifactNotFound: 'ArtifactNotFound',
  ArtifactDigestMismatch: 'ArtifactDigestMismatch',
  InvalidModel: 'InvalidModel',
} as const;

/** FailureType is one of the failure type strings above. */
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** REGISTRY_ERROR_CODES lists the stable `code` of every registry error. */
export const REGISTRY_ERROR_CODES = ['invalid_input', 'conflict', 'not_found', 'protected_alias', 'concurrent_update'] as const;

/** RegistryErrorCode is the stable code a registry error carries. */
export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[number];

/** RegistryFailure is how one registry error code surfaces to each caller. */
export interface RegistryFailure {
  /** The ApplicationFailure type an activity fails with. */
  failureType: FailureType;
  /** Whether an activity retry can help; a retryable error is rethrown as it is. */
  retryable: boolean;
  httpStatus: 400 | 404 | 409;
  /** The `error.code` of the API's answer. */
  apiCode: string;
  /** The CLI exit code, by its name in the exit-code contract (cli/exit-codes.ts). */
  exit: 'badInput' | 'notFound';
}

/** REGISTRY_FAILURES is the one table from registry error code to failure type, retryability, HTTP status and exit code. */
export const REGISTRY_FAILURES: { readonly [C in RegistryErrorCode]: RegistryFailure } = {
  invalid_input: { failureType: FailureType.InvalidInput, retryable: false, httpStatus: 400, apiCode: 'bad_request', exit: 'badInput' },
  not_found: { failureType: FailureType.ModelVersionNotFound, retryable: false, httpStatus: 404, apiCode: 'not_found', exit: 'notFound' },
  conflict: { failureType: FailureType.VersionConflict, retryable: false, httpStatus: 409, apiCode: 'conflict', exit: 'badInput' },
  protected_alias: { failureType: FailureType.ProtectedAlias, retryable: false, httpStatus: 409, apiCode: 'protected_alias', exit: 'badInput' },
  // Lost an optimistic-concurrency race: re-reading and trying again succeeds.
  concurrent_update: { failureType: FailureType.ConcurrentUpdate, retryable: true, httpStatus: 409, apiCode: 'concurrent_update', exit: 'badInput' },
};

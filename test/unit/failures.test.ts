import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../cli/exit-codes';
import { FailureType, REGISTRY_ERROR_CODES, REGISTRY_FAILURES } from '../../domain/failures';
import {
  ConcurrentUpdateError,
  InvalidInputError,
  NotFoundError,
  ProtectedAliasError,
  VersionConflictError,
  type RegistryError,
} from '../../registry/errors';

// One of each registry error, as the registry throws them.
const ERRORS: RegistryError[] = [
  new InvalidInputError([{ field: 'model', reason: 'must not be empty' }]),
  new NotFoundError('version', 'fraud@9.9.9'),
  new VersionConflictError('fraud', '1.0.0', ['artifact']),
  new ProtectedAliasError('fraud', 'champion'),
  new ConcurrentUpdateError('live pointer fraud@prod', 3),
];

describe('failure vocabulary', () => {
  it('keeps every failure type string as recorded histories and callers know it', () => {
    // These strings are on the wire: a change here breaks running releases and callers matching on them.
    assert.deepEqual(FailureType, {
      InvalidInput: 'InvalidInput',
      ModelVersionNotFound: 'ModelVersionNotFound',
      VersionConflict: 'VersionConflict',
      ProtectedAlias: 'ProtectedAlias',
      ConcurrentUpdate: 'ConcurrentUpdateError',
      UnknownTarget: 'UnknownTarget',
      UnknownHealthSource: 'UnknownHealthSource',
      Misconfigured: 'Misconfigured',
      GateUnavailable: 'GateUnavailable',
      NoRollbackTarget: 'NoRollbackTarget',
      RollbackTargetNotGood: 'RollbackTargetNotGood',
      DeployFailed: 'DeployFailed',
      UndoFailed: 'UndoFailed',
      WebhookUnavailable: 'WebhookUnavailable',
      WebhookTimeout: 'WebhookTimeout',
      WebhookRejected: 'WebhookRejected',
      WebhookProtocolError: 'WebhookProtocolError',
      ArtifactNotFound: 'ArtifactNotFound',
      ArtifactDigestMismatch: 'ArtifactDigestMismatch',
      InvalidModel: 'InvalidModel',
    });
  });

  it('maps every registry error code, and every registry error carries a mapped code', () => {
    assert.deepEqual(Object.keys(REGISTRY_FAILURES).sort(), [...REGISTRY_ERROR_CODES].sort());
    assert.deepEqual(ERRORS.map((e) => e.code).sort(), [...REGISTRY_ERROR_CODES].sort(), 'one error class per code');
    for (const failure of Object.values(REGISTRY_FAILURES)) {
      assert.ok((Object.values(FailureType) as string[]).includes(failure.failureType), `${failure.failureType} is in the vocabulary`);
    }
  });

  it('answers bad input with HTTP 400 and exit 2, a missing thing with 404 and exit 3, a conflict with 409 and exit 2', () => {
    const surfaced = Object.fromEntries(
      ERRORS.map((e) => {
        const f = REGISTRY_FAILURES[e.code];
        return [e.constructor.name, { type: f.failureType, retryable: f.retryable, http: f.httpStatus, apiCode: f.apiCode, exit: ExitCode[f.exit] }];
      }),
    );
    assert.deepEqual(surfaced, {
      InvalidInputError: { type: 'InvalidInput', retryable: false, http: 400, apiCode: 'bad_request', exit: 2 },
      NotFoundError: { type: 'ModelVersionNotFound', retryable: false, http: 404, apiCode: 'not_found', exit: 3 },
      VersionConflictError: { type: 'VersionConflict', retryable: false, http: 409, apiCode: 'conflict', exit: 2 },
      ProtectedAliasError: { type: 'ProtectedAlias', retryable: false, http: 409, apiCode: 'protected_alias', exit: 2 },
      ConcurrentUpdateError: { type: 'ConcurrentUpdateError', retryable: true, http: 409, apiCode: 'concurrent_update', exit: 2 },
    });
    assert.equal(ExitCode.badInput, 2);
    assert.equal(ExitCode.notFound, 3);
  });

  it('names a retryable code by the class Temporal types the rethrown error with', () => {
    // A retryable registry error leaves the activity unwrapped, so its failure type is its class name.
    for (const err of ERRORS) {
      const f = REGISTRY_FAILURES[err.code];
      if (f.retryable) assert.equal(f.failureType, err.constructor.name);
    }
  });
});

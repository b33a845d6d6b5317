/**
 * The registry's closed vocabulary of failures. Each carries a stable `code`;
 * REGISTRY_FAILURES (domain/failures.ts) says what it becomes in an activity,
 * the API and the CLI.
 */
import type { RegistryErrorCode } from '../domain/failures';

/** FieldProblem names one bad field and why. */
export interface FieldProblem {
  field: string;
  reason: string;
}

/** RegistryError is the base of every registry failure. */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** InvalidInputError is bad input, rejected before anything is written. */
export class InvalidInputError extends RegistryError {
  constructor(readonly problems: FieldProblem[]) {
    super('invalid_input', problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
  }
}

/** VersionConflictError is different content registered under an existing (model, version). */
export class VersionConflictError extends RegistryError {
  constructor(
    readonly model: string,
    readonly version: string,
    readonly differingFields: string[],
  ) {
    super(
      'conflict',
      `${model}@${version} is already registered with different ${differingFields.join(', ')}; versions are immutable — register a new version instead`,
    );
  }
}

/** NotFoundError is a model, version, release or pointer that does not exist. */
export class NotFoundError extends RegistryError {
  constructor(
    readonly kind: 'model' | 'version' | 'release' | 'live version' | 'alias' | 'pipeline' | 'pipeline revision' | 'binding' | 'line stop' | 'quarantine' | 'subscription',
    readonly key: string,
    hint = '',
  ) {
    super('not_found', `${kind} ${key} not found${hint ? `; ${hint}` : ''}`);
  }
}

/** ConcurrentUpdateError is a lost optimistic-concurrency race: re-read and retry. */
export class ConcurrentUpdateError extends RegistryError {
  constructor(what: string, expectedRevision: number | undefined) {
    super(
      'concurrent_update',
      `${what} was changed by someone else${expectedRevision === undefined ? '' : ` (expected revision ${expectedRevision})`}; re-read it and retry`,
    );
  }
}

/** ProtectedAliasError is an attempt to move a protected alias outside a release. */
export class ProtectedAliasError extends RegistryError {
  constructor(model: string, alias: string) {
    super('protected_alias', `alias ${model}:${alias} is protected and moves only through a release`);
  }
}

/** isDuplicateKey tells whether a MongoDB error is a unique-index violation (E11000). */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

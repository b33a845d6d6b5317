/**
 * The signing keys a process is configured with, read once from the config:
 * the API's key, the audit key, and the public keys an auditor trusts.
 */
import type { SlipwayConfig } from '../config';
import type { TrustedKeys } from '../domain/decisions';
import { parseTrustedKeys, Signer } from './signing';

/** ConfiguredKeys are the signers this process has, and the keys it trusts when verifying. */
export interface ConfiguredKeys {
  /** SLIPWAY_API_SIGNING_KEY's signer. */
  api?: Signer;
  /** SLIPWAY_AUDIT_SIGNING_KEY's signer. */
  audit?: Signer;
  /** SLIPWAY_API_PUBLIC_KEYS plus the public halves of the keys above. */
  trusted: TrustedKeys;
}

/** configuredKeys loads the configured signers and trusted keys, naming the variable on error. */
export function configuredKeys(config: Pick<SlipwayConfig, 'apiSigningKeyFile' | 'auditSigningKeyFile' | 'apiPublicKeys'>): ConfiguredKeys {
  const api = config.apiSigningKeyFile ? Signer.fromPemFile(config.apiSigningKeyFile, 'SLIPWAY_API_SIGNING_KEY') : undefined;
  const audit = config.auditSigningKeyFile ? Signer.fromPemFile(config.auditSigningKeyFile, 'SLIPWAY_AUDIT_SIGNING_KEY') : undefined;
  const trusted = { ...parseTrustedKeys(config.apiPublicKeys), ...api?.trusted(), ...audit?.trusted() };
  return { api, audit, trusted };
}

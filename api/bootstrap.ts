/**
 * Building the API's authenticator from configuration; in `slipway dev`
 * without a tokens file, a local admin token is made and printed once.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { SlipwayConfig } from '../config';
import { Signer } from '../lib/signing';
import { Authenticator, loadTokensFile, remoteJwks, sha256Hex } from './auth';
import { CiIdentityVerifier, loadCiRulesFile } from './ci-identity';
import { refusePublishedTokens } from './example-tokens';
import { loadOidcUsersFile } from './oidc-identity';

/** createAuthenticator loads SLIPWAY_API_TOKENS (refusing published example tokens), OIDC settings (with SLIPWAY_OIDC_USERS) and SLIPWAY_CI_OIDC_RULES. */
export function createAuthenticator(config: SlipwayConfig, tokensFile = config.apiTokensFile): Authenticator {
  const tokens = tokensFile ? loadTokensFile(tokensFile) : { tokens: [] };
  if (tokensFile) refusePublishedTokens(tokens.tokens.map((t) => ({ user: t.user, sha256: t.sha256 ?? sha256Hex(t.token!) })), tokensFile);
  const oidc = config.oidc
    ? { issuer: config.oidc.issuer, audience: config.oidc.audience, jwks: remoteJwks(config.oidc.jwksUrl), users: loadOidcUsersFile(config.oidc.usersFile, config.oidc.issuer) }
    : undefined;
  const ci = config.ciOidcRulesFile ? new CiIdentityVerifier(loadCiRulesFile(config.ciOidcRulesFile), (url) => remoteJwks(url, `SLIPWAY_CI_OIDC_RULES jwksUrl`)) : undefined;
  return new Authenticator(tokens, oidc, undefined, ci);
}

/** ensureDevTokens writes a tokens file with one admin token for the local user, returning the file and the token. */
export function ensureDevTokens(dataDir: string, user: string): { file: string; token: string } {
  const file = path.join(dataDir, 'api-tokens.yaml');
  const tokenFile = path.join(dataDir, 'api-token');
  if (fs.existsSync(file) && fs.existsSync(tokenFile)) return { file, token: fs.readFileSync(tokenFile, 'utf8').trim() };
  const token = `slw_${randomBytes(24).toString('base64url')}`;
  fs.mkdirSync(dataDir, { recursive: true });
  const safeUser = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(user) ? user : 'developer';
  fs.writeFileSync(
    file,
    `# Local development tokens for the Slipway API (sha256 of each token, never the token).\n${YAML.stringify({
      tokens: [{ user: safeUser, sha256: sha256Hex(token), roles: ['admin'], approves: ['*'] }],
    })}`,
    { mode: 0o600 },
  );
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return { file, token };
}

/**
 * ensureDevSigningKey is `slipway dev`'s API signing key, kept in the data folder so releases that
 * loaded its public half keep verifying approvals across restarts; SLIPWAY_API_SIGNING_KEY wins.
 */
export function ensureDevSigningKey(dataDir: string, configured: string | undefined): Signer {
  if (configured) return Signer.fromPemFile(configured);
  const file = path.join(dataDir, 'api-signing-key.pem');
  if (fs.existsSync(file)) return Signer.fromPemFile(file);
  const signer = Signer.generate();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, signer.pem(), { mode: 0o600 });
  return signer;
}

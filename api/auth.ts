/**
 * Who is calling: bearer tokens mapped to a user and roles, from a tokens
 * file, and optionally OIDC JWTs verified against a JWKS. The approver's
 * identity always comes from here, never from a request body.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import YAML from 'yaml';
import { z } from 'zod';
import { constantTimeEqual } from '../lib/constant-time';
import type { CiIdentityVerifier } from './ci-identity';
import { jwksUrlProblem, oidcPrincipal, type OidcUsers } from './oidc-identity';

/** Role is what a caller may do: viewers read, releasers start releases and roll back, admins do all of that. */
export type Role = 'viewer' | 'releaser' | 'admin';

/** Principal is an authenticated caller. */
export interface Principal {
  user: string;
  roles: Role[];
  /** Environments this caller may approve or reject ("*" for all). */
  approves: string[];
  /** Environments this caller may roll back ("*" for all): rolling back is its own permission. */
  rollsBack: string[];
  /** May stop and resume the line (admins always); see api/permissions.ts. */
  stopsLine?: boolean;
  /** May quarantine and unquarantine versions (admins always). */
  quarantines?: boolean;
  /** Environments this caller may post health reports for ("*" for all; admins always): the releaser role alone may not vouch for its own release. */
  reportsHealth?: string[];
  via: 'token' | 'oidc';
  /** For CI identities: the person whose push or merge started the run; recorded with the release, and may not approve it. */
  actor?: string;
  /** For OIDC identities from a CI rule: the token's issuer, so records can tell CI callers apart. */
  issuer?: string;
}

const userSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'user must be a plain name (letters, digits, . _ @ -)');
const roleSchema = z.enum(['viewer', 'releaser', 'admin']);

/** tokensFileSchema is the format of SLIPWAY_API_TOKENS (YAML or JSON). */
export const tokensFileSchema = z.strictObject({
  tokens: z.array(
    z.strictObject({
      user: userSchema,
      // Store the sha256 of the token, not the token, so the file is not a secret store.
      sha256: z.string().regex(/^[a-f0-9]{64}$/, 'sha256 must be the hex sha256 of the token').optional(),
      token: z.string().min(16, 'tokens must be at least 16 characters').optional(),
      roles: z.array(roleSchema).min(1),
      approves: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/)).default([]),
      // Optional (absent = none) so token lists written before it still type-check.
      rollsBack: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/)).optional(),
      // Stopping the line and quarantining versions are their own grants (admins hold both).
      stopsLine: z.boolean().optional(),
      quarantines: z.boolean().optional(),
      // Health reports pass bakes and canary analysis, so reporting is its own grant, per environment.
      reportsHealth: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/)).optional(),
      expiresAt: z.iso.datetime({ offset: true }).optional(),
    }).refine((t) => Boolean(t.sha256) !== Boolean(t.token), 'give exactly one of sha256 or token'),
  ),
});

/** OidcConfig verifies JWTs from an identity provider; `users` maps each issuer + subject to a Slipway user (SLIPWAY_OIDC_USERS). */
export interface OidcConfig {
  issuer: string;
  audience: string;
  jwks: JWTVerifyGetKey;
  users: OidcUsers;
}

/** AuthFailure is a 401 (who are you?) or 403 (you may not). */
export class AuthFailure extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

interface TokenEntry {
  sha256: Buffer;
  principal: Principal;
  expiresAt: Date | null;
}

/** Authenticator resolves a bearer token to a Principal. */
export class Authenticator {
  private readonly entries: TokenEntry[];

  constructor(
    tokens: z.infer<typeof tokensFileSchema>,
    private readonly oidc?: OidcConfig,
    private readonly clock: () => Date = () => new Date(),
    /** CI ID tokens (GitHub Actions, GitLab CI) mapped by SLIPWAY_CI_OIDC_RULES; tried before the general OIDC issuer. */
    private readonly ci?: CiIdentityVerifier,
  ) {
    this.entries = tokens.tokens.map((t) => ({
      sha256: Buffer.from(t.sha256 ?? sha256Hex(t.token!), 'hex'),
      principal: { user: t.user, roles: t.roles, approves: t.approves, rollsBack: t.rollsBack ?? [], via: 'token', ...(t.stopsLine ? { stopsLine: true } : {}), ...(t.quarantines ? { quarantines: true } : {}), ...(t.reportsHealth?.length ? { reportsHealth: t.reportsHealth } : {}) },
      expiresAt: t.expiresAt ? new Date(t.expiresAt) : null,
    }));
  }

  /** authenticate checks an Authorization header value; throws AuthFailure(401) when it does not identify anyone. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new AuthFailure(401, 'missing bearer token: send "Authorization: Bearer <token>"');
    const token = match[1]!;
    if (token.split('.').length === 3 && this.ci?.handles(token)) return this.ci.verify(token);
    if (token.split('.').length === 3 && this.oidc) return this.verifyJwt(token);
    const digest = Buffer.from(sha256Hex(token), 'hex');
    // Every entry is compared (no early exit), so the time taken does not say which entry matched.
    const entry = this.entries.filter((e) => constantTimeEqual(e.sha256, digest))[0];
    if (!entry) throw new AuthFailure(401, 'invalid token');
    if (entry.expiresAt && entry.expiresAt <= this.clock()) throw new AuthFailure(401, `token for ${entry.principal.user} expired at ${entry.expiresAt.toISOString()}`);
    return entry.principal;
  }

  private async verifyJwt(token: string): Promise<Principal> {
    const oidc = this.oidc!;
    let payload: JWTPayload;
    try {
      // Without exp a stolen token would work forever; without sub there is no identity to map.
      ({ payload } = await jwtVerify(token, oidc.jwks, { issuer: oidc.issuer, audience: oidc.audience, requiredClaims: ['exp', 'sub'], currentDate: this.clock() }));
    } catch (err) {
      throw new AuthFailure(401, `invalid token: ${(err as Error).message}`);
    }
    const principal = oidcPrincipal(oidc.users, oidc.issuer, payload.sub!);
    if (!principal) throw new AuthFailure(401, `no Slipway user for issuer "${oidc.issuer}" and subject "${payload.sub!.slice(0, 200)}": an admin adds them to SLIPWAY_OIDC_USERS`);
    return principal;
  }
}

/** can tells whether a principal holds a role (admin holds every role). */
export function can(principal: Principal, role: Role): boolean {
  if (principal.roles.includes('admin')) return true;
  if (role === 'viewer') return principal.roles.length > 0;
  return principal.roles.includes(role);
}

/** canApprove tells whether a principal may approve or reject a stage. */
export function canApprove(principal: Principal, env: string): boolean {
  return principal.approves.includes('*') || principal.approves.includes(env);
}

/** sha256Hex hashes a token the way the tokens file stores it. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** loadTokensFile reads and validates SLIPWAY_API_TOKENS, naming the file and field on error. */
export function loadTokensFile(file: string): z.infer<typeof tokensFileSchema> {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`SLIPWAY_API_TOKENS: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = tokensFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`SLIPWAY_API_TOKENS: ${file} is invalid: ${problems}`);
  }
  return parsed.data;
}

/** remoteJwks builds a JWKS key getter with a fetch timeout (every outbound call has one); `setting` names where the URL came from when it is not https. */
export function remoteJwks(url: string, setting = 'SLIPWAY_OIDC_JWKS_URL'): JWTVerifyGetKey {
  const problem = jwksUrlProblem(url);
  if (problem) throw new Error(`${setting}: ${problem}`);
  return createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
}

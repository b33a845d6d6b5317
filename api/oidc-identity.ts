/**
 * Who an OIDC token names: the pair (issuer, subject), the one thing the
 * identity provider guarantees is unique and stable. Claims such as `email`
 * or `preferred_username` are whatever the account holder (or another
 * issuer) chose, so they never pick the Slipway user: SLIPWAY_OIDC_USERS maps
 * each issuer + subject to a user name and that user's roles, with the same
 * fields as the tokens file.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { Principal } from './auth';

const roleSchema = z.enum(['viewer', 'releaser', 'admin']);
const envGrant = z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/, 'each entry is an environment name or *'));

/** jwksUrlProblem says what is wrong with a JWKS URL (keys fetched in clear could be swapped on the way), or undefined when it is https, or http on loopback. */
export function jwksUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return undefined;
  return `"${url}" must be https:// (http:// only on 127.0.0.1, localhost or [::1])`;
}

/** isLoopbackHost tells whether a URL's hostname is this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/** oidcUsersFileSchema is the format of SLIPWAY_OIDC_USERS (YAML or JSON). */
export const oidcUsersFileSchema = z.strictObject({
  users: z
    .array(
      z.strictObject({
        issuer: z.string().min(1, 'issuer is the "iss" the tokens carry (SLIPWAY_OIDC_ISSUER)'),
        subject: z.string().min(1, 'subject is the token\'s "sub": the account id at the identity provider, not an email'),
        user: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'user must be a plain name (letters, digits, . _ @ -)'),
        roles: z.array(roleSchema).min(1, 'give at least one role'),
        approves: envGrant.default([]),
        rollsBack: envGrant.default([]),
        reportsHealth: envGrant.optional(),
      }),
    )
    .min(1, 'list at least one user'),
});

/** OidcUsers is a validated SLIPWAY_OIDC_USERS file. */
export type OidcUsers = z.infer<typeof oidcUsersFileSchema>;

/** parseOidcUsers validates a parsed mapping for tokens from `issuer`; `file` names it in errors. */
export function parseOidcUsers(raw: unknown, file: string, issuer: string): OidcUsers {
  const parsed = oidcUsersFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`SLIPWAY_OIDC_USERS: ${file} is invalid: ${problems}`);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  parsed.data.users.forEach((u, i) => {
    // An entry for another issuer would never match (only SLIPWAY_OIDC_ISSUER's tokens are verified): say so rather than ignore it.
    if (u.issuer !== issuer) problems.push(`users.${i}.issuer: "${u.issuer}" is not SLIPWAY_OIDC_ISSUER ("${issuer}")`);
    const key = JSON.stringify([u.issuer, u.subject]);
    if (seen.has(key)) problems.push(`users.${i}: issuer "${u.issuer}" and subject "${u.subject}" are listed twice`);
    seen.add(key);
  });
  if (problems.length > 0) throw new Error(`SLIPWAY_OIDC_USERS: ${file} is invalid: ${problems.join('; ')}`);
  return parsed.data;
}

/** loadOidcUsersFile reads and validates SLIPWAY_OIDC_USERS, naming the file and field on error. */
export function loadOidcUsersFile(file: string, issuer: string): OidcUsers {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`SLIPWAY_OIDC_USERS: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseOidcUsers(raw, file, issuer);
}

/** oidcPrincipal is the Principal the mapping gives (issuer, subject), or undefined when it lists neither. */
export function oidcPrincipal(users: OidcUsers, issuer: string, subject: string): Principal | undefined {
  const entry = users.users.find((u) => u.issuer === issuer && u.subject === subject);
  if (!entry) return undefined;
  return { user: entry.user, roles: entry.roles, approves: entry.approves, rollsBack: entry.rollsBack, ...(entry.reportsHealth?.length ? { reportsHealth: entry.reportsHealth } : {}), via: 'oidc', issuer };
}

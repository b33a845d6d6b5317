/**
 * CI logs in with its own OIDC ID token (GitHub Actions, GitLab CI): the token
 * is verified against its issuer's JWKS, then the first rule whose `match`
 * equals the token's claims names the requester, the person who triggered the
 * run (`actor`) and the roles. CI then holds no long-lived secret.
 *
 * The rules file is SLIPWAY_CI_OIDC_RULES (YAML); see docs/approvals-and-identity.md.
 */
import fs from 'node:fs';
import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import YAML from 'yaml';
import { z } from 'zod';
import { AuthFailure, type Principal, type Role } from './auth';
import { jwksUrlProblem } from './oidc-identity';

const roleSchema = z.enum(['viewer', 'releaser', 'admin']);
const claimValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/** ciRulesFileSchema is the format of SLIPWAY_CI_OIDC_RULES. */
export const ciRulesFileSchema = z.strictObject({
  issuers: z
    .array(
      z.strictObject({
        issuer: z.url('issuer must be the URL the tokens carry in "iss"'),
        audience: z.string().min(1, 'audience must name what CI asks its token for (e.g. slipway)'),
        // Keys fetched in clear could be swapped on the way; plain http only for local tests.
        jwksUrl: z.url().refine((u) => !URL.canParse(u) || jwksUrlProblem(u) === undefined, 'jwksUrl must be https:// (http:// only on 127.0.0.1/localhost)'),
      }),
    )
    .min(1, 'list at least one issuer'),
  rules: z
    .array(
      z.strictObject({
        match: z
          .record(z.string(), claimValue)
          .refine((m) => typeof m.iss === 'string', 'match must name the issuer (iss), so a rule never matches tokens from another CI'),
        user: z.string().min(1, 'user is a template such as "ci:github:{repository}"'),
        actor: z.string().min(1).optional(),
        roles: z.array(roleSchema).min(1, 'give at least one role'),
        // CI approving its own releases would defeat the approval; allowed only when stated.
        approves: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/)).default([]),
        // A monitoring job may report health; a release job should not vouch for its own release.
        reportsHealth: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]{0,62})$/)).default([]),
      }),
    )
    .min(1, 'list at least one rule'),
}).superRefine((file, ctx) => {
  const issuers = new Set(file.issuers.map((i) => i.issuer));
  file.rules.forEach((rule, i) => {
    if (!issuers.has(rule.match.iss!)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'match', 'iss'], message: `"${rule.match.iss}" is not one of the issuers listed under issuers` });
  });
});

/** CiRules is a validated rules file. */
export type CiRules = z.infer<typeof ciRulesFileSchema>;
/** CiRule is one rule: claims to match and the identity they map to. */
export type CiRule = CiRules['rules'][number];

/** loadCiRulesFile reads and validates SLIPWAY_CI_OIDC_RULES, naming the file and field on error. */
export function loadCiRulesFile(file: string): CiRules {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`SLIPWAY_CI_OIDC_RULES: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseCiRules(raw, file);
}

/** parseCiRules validates a parsed rules document; `file` names it in errors. */
export function parseCiRules(raw: unknown, file: string): CiRules {
  const parsed = ciRulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`SLIPWAY_CI_OIDC_RULES: ${file} is invalid: ${problems}`);
  }
  return parsed.data;
}

/** matchRule is the first rule whose every `match` entry equals the claim of that name (as text), or undefined. */
export function matchRule(rules: readonly CiRule[], claims: JWTPayload): CiRule | undefined {
  return rules.find((rule) => Object.entries(rule.match).every(([name, want]) => claimText(claims[name]) === want));
}

/**
 * renderName fills `{claim}` placeholders and makes the result a name the
 * release records accept (letters, digits, '_' and '-', at most 64): other
 * characters become '-', so "ci:github:{repository}" gives "ci-github-acme-fraud-model".
 */
export function renderName(template: string, claims: JWTPayload, field: 'user' | 'actor'): string {
  const filled = template.replace(/\{([A-Za-z0-9_.-]+)\}/g, (_, name: string) => {
    const value = claimText(claims[name]);
    if (value === undefined || value === '') throw new AuthFailure(401, `the token has no "${name}" claim, which the CI rule's ${field} template "${template}" needs`);
    return value;
  });
  const name = filled.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (name.length === 0 || name.length > 64) throw new AuthFailure(401, `the CI rule's ${field} template "${template}" gives "${name}", not a name of 1-64 characters`);
  return name;
}

function claimText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

// Claims that say which pipeline run it was, named in "no rule matches" so the operator can write one.
const DESCRIBING_CLAIMS = ['iss', 'sub', 'repository', 'ref', 'environment', 'workflow', 'project_path', 'ref_protected', 'pipeline_source'];

/** CiIdentityVerifier turns a CI ID token into a Principal, or refuses it with a 401 that says why. */
export class CiIdentityVerifier {
  private readonly keys: Map<string, JWTVerifyGetKey>;

  constructor(
    private readonly rules: CiRules,
    /** jwksFor builds a key getter per issuer (remoteJwks in production, a local set in tests). */
    jwksFor: (jwksUrl: string) => JWTVerifyGetKey,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.keys = new Map(rules.issuers.map((i) => [i.issuer, jwksFor(i.jwksUrl)]));
  }

  /** handles tells whether a bearer token claims to come from a configured CI issuer (not yet verified). */
  handles(token: string): boolean {
    try {
      const iss = decodeJwt(token).iss;
      return typeof iss === 'string' && this.keys.has(iss);
    } catch {
      return false;
    }
  }

  /** verify checks signature, issuer, audience and expiry, then maps the claims through the first matching rule. */
  async verify(token: string): Promise<Principal> {
    const iss = decodeJwt(token).iss;
    const issuer = this.rules.issuers.find((i) => i.issuer === iss);
    if (!issuer) throw new AuthFailure(401, `invalid token: issuer "${String(iss)}" is not configured for CI`);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.keys.get(issuer.issuer)!, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        // A CI token without an expiry would be a long-lived secret again.
        requiredClaims: ['exp'],
        currentDate: this.clock(),
      }));
    } catch (err) {
      throw new AuthFailure(401, `invalid CI token from ${issuer.issuer}: ${(err as Error).message}`);
    }
    const rule = matchRule(this.rules.rules, claims);
    if (!rule) {
      const seen = DESCRIBING_CLAIMS.filter((c) => claims[c] !== undefined).map((c) => `${c}=${JSON.stringify(claims[c])}`).join(', ');
      throw new AuthFailure(401, `no CI rule matches this token (${seen}); add a rule to SLIPWAY_CI_OIDC_RULES whose match fits these claims`);
    }
    const roles: Role[] = rule.roles;
    return {
      user: renderName(rule.user, claims, 'user'),
      roles,
      approves: rule.approves,
      rollsBack: [],
      ...(rule.reportsHealth.length ? { reportsHealth: rule.reportsHealth } : {}),
      via: 'oidc',
      issuer: issuer.issuer,
      ...(rule.actor ? { actor: renderName(rule.actor, claims, 'actor') } : {}),
    };
  }
}

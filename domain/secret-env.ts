/**
 * Which environment variables a pipeline may name as a secret (a webhook
 * gate's `secretEnv`, a prompt suite's `apiKeyEnv`): the one rule that
 * `pipeline apply` (API, CLI) and the worker (before each use) share.
 * SLIPWAY_SECRET_ENV_ALLOW lists exact names and `PREFIX_*` prefixes; nothing
 * else is readable, and Slipway's and Temporal's own variables never are.
 * Which pipeline fields name a secret is in pipeline-secrets.ts.
 */
/** SECRET_ENV_ALLOW_SETTING is the variable listing what pipelines may read secrets from. */
export const SECRET_ENV_ALLOW_SETTING = 'SLIPWAY_SECRET_ENV_ALLOW';

// SLIPWAY_* and TEMPORAL_* hold the codec keys, signing keys, the MongoDB URI (with its password), the Temporal API key and TLS keys.
const RESERVED_PREFIXES = ['SLIPWAY_', 'TEMPORAL_'] as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** SecretEnvAllow is the parsed allowlist: exact names, and prefixes (each entry that ended in `*`, without it). */
export interface SecretEnvAllow {
  names: readonly string[];
  prefixes: readonly string[];
}

/** NO_SECRETS allows no variable at all: what a process without SLIPWAY_SECRET_ENV_ALLOW gets. */
export const NO_SECRETS: SecretEnvAllow = Object.freeze({ names: [], prefixes: [] });

/** isReservedEnv says whether a variable is one of Slipway's or Temporal's own (any case, as Windows reads them). */
export function isReservedEnv(name: string): boolean {
  const upper = name.toUpperCase();
  return RESERVED_PREFIXES.some((p) => upper.startsWith(p));
}

/**
 * parseSecretEnvAllow reads SLIPWAY_SECRET_ENV_ALLOW (`NAME,OTHER_NAME,GATE_*`). An entry that is not a
 * variable name, a bare `*`, or one that would let a reserved variable through is refused with the entry named.
 */
export function parseSecretEnvAllow(text: string | undefined): SecretEnvAllow {
  if (text === undefined || text.trim() === '') return NO_SECRETS;
  const names: string[] = [];
  const prefixes: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const prefix = entry.endsWith('*') ? entry.slice(0, -1) : undefined;
    const name = prefix ?? entry;
    const shown = JSON.stringify(entry.slice(0, 140));
    if (!NAME.test(name)) {
      throw new Error(`${SECRET_ENV_ALLOW_SETTING}: ${shown} is not a variable name or a prefix ending in "*" (letters, digits, '_'; e.g. "GATE_SECRET" or "GATE_*")`);
    }
    // A prefix such as "SLIP*" would let SLIPWAY_CODEC_KEYS through: refused when the setting is read, not only per name.
    const upper = name.toUpperCase();
    const reserved = RESERVED_PREFIXES.some((p) => upper.startsWith(p) || (prefix !== undefined && p.startsWith(upper)));
    if (reserved) {
      throw new Error(`${SECRET_ENV_ALLOW_SETTING}: ${shown} would allow ${RESERVED_PREFIXES.map((p) => `${p}*`).join(' or ')} variables, which hold Slipway's and Temporal's own keys and can never be read by a pipeline; remove it and keep the pipeline's secret in a variable of its own`);
    }
    (prefix === undefined ? names : prefixes).push(name);
  }
  return Object.freeze({ names, prefixes });
}

/** secretEnvRefusal says why a pipeline may not read a variable (naming the setting to change), or undefined when it may. */
export function secretEnvRefusal(name: string, allow: SecretEnvAllow): string | undefined {
  if (isReservedEnv(name)) {
    return `${name} is one of Slipway's or Temporal's own variables (SLIPWAY_*, TEMPORAL_*), which a pipeline can never read; keep the secret in a variable of its own and list that in ${SECRET_ENV_ALLOW_SETTING}`;
  }
  if (allow.names.includes(name) || allow.prefixes.some((p) => name.startsWith(p))) return undefined;
  return `${name} is not in ${SECRET_ENV_ALLOW_SETTING}; add it (or a prefix such as ${name.split('_')[0] || name}_*) to ${SECRET_ENV_ALLOW_SETTING} on the API and the workers, or name a variable that is listed`;
}

/** pickAllowedSecrets copies out of an environment the values of the variables the allowlist lets pipelines read (set and non-empty). */
export function pickAllowedSecrets(env: Readonly<Record<string, string | undefined>>, allow: SecretEnvAllow): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value && secretEnvRefusal(name, allow) === undefined) out[name] = value;
  }
  return Object.freeze(out);
}

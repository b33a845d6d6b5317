/**
 * Configuration, read once from the environment with typed defaults.
 * Nothing deeper than the entry points reads process.env. The Temporal
 * connection (TEMPORAL_*, temporal.toml profiles) is resolved apart, by
 * config/temporal.ts, only in the processes that connect to a Temporal they
 * did not start.
 */
import os from 'node:os';
import { parseDuration } from '../domain/duration';
import { parseSecretEnvAllow, pickAllowedSecrets, type SecretEnvAllow } from '../domain/secret-env';
import type { PluginSettings } from '../lib/plugins';

/** SlipwayConfig is everything the CLI, workers and API need to find their services. */
export interface SlipwayConfig {
  taskQueue: string;
  mongodbUri: string;
  /** SLIPWAY_MONGODB_CA_FILE: PEM CA bundle for a MongoDB whose certificate no system CA signs; turns TLS on (registry/db.ts checks it at start). */
  mongodbCaFile: string | undefined;
  /** Whether SLIPWAY_MONGODB_URI was given explicitly (dev stack then starts no database). */
  mongodbUriGiven: boolean;
  apiUrl: string;
  /** Whether SLIPWAY_API_URL was given explicitly: with a token, the CLI then goes through the API instead of Temporal and MongoDB. */
  apiUrlGiven: boolean;
  /** SLIPWAY_TOKEN: the bearer token (or CI ID token) the CLI sends to the API. */
  apiToken: string | undefined;
  apiPort: number;
  pipelinesDir: string | undefined;
  user: string;
  /** YAML/JSON file of API bearer tokens (see api/auth.ts). */
  apiTokensFile: string | undefined;
  /** OIDC: JWTs from this issuer/audience, verified against this JWKS URL; SLIPWAY_OIDC_USERS maps issuer + subject to users (api/oidc-identity.ts). */
  oidc: { issuer: string; audience: string; jwksUrl: string; usersFile: string; clientId?: string } | undefined;
  /** SLIPWAY_CI_OIDC_RULES: YAML file of CI issuers and the rules mapping their ID tokens' claims to identities (api/ci-identity.ts). */
  ciOidcRulesFile: string | undefined;
  /** Payload encryption keys (`id:base64,…`, first is current); unset means payloads are not encrypted. */
  codecKeys: string | undefined;
  /** Every SLIPWAY_* variable that is set: each deploy target and health source reads and validates its own (e.g. SLIPWAY_WEBHOOK_URL). */
  pluginSettings: PluginSettings;
  /** SLIPWAY_LOCAL_SERVING_DIR: where the worker runs local model servers (the `local` target); unset means it runs none. */
  localServingDir: string | undefined;
  /** Origins allowed to call the codec endpoint from a browser (the Temporal Web UI). */
  uiOrigins: string[];
  /** SLIPWAY_TEMPORAL_UI_URL: the Temporal Web UI the release board links each release to; unset means no links. */
  temporalUiUrl: string | undefined;
  /** SLIPWAY_API_SIGNING_KEY: the API's Ed25519 private key (PKCS#8 PEM file); signs decisions, audit checkpoints and evidence bundles. */
  apiSigningKeyFile: string | undefined;
  /** SLIPWAY_AUDIT_SIGNING_KEY: a worker's (or CLI's) key for signing audit checkpoints, same format; unset means it signs none. */
  auditSigningKeyFile: string | undefined;
  /** SLIPWAY_API_PUBLIC_KEYS: trusted raw Ed25519 public keys (`base64,…`), parsed by lib/signing.ts parseTrustedKeys. */
  apiPublicKeys: string | undefined;
  // The worker sandbox's secrets (domain/secret-env.ts; files and outbound calls read their SLIPWAY_* settings from pluginSettings).
  /** SLIPWAY_SECRET_ENV_ALLOW: the variables pipelines may name as secrets; the API checks `pipeline apply` and workers each use against it. */
  secretEnvAllow: SecretEnvAllow;
  /** The values of the allowed variables that are set: all a worker's gates can ever read. */
  secretEnv: Readonly<Record<string, string>>;
  /** SLIPWAY_PUBLIC_URL: where people reach the release board; links in events start with it (default: apiUrl). */
  publicUrl: string;
  /** SLIPWAY_LINE_RECHECK_INTERVAL: how often a release held by a stopped line asks again (a duration; unset = 30s). */
  lineRecheckMs: number | undefined;
  /** API edge settings (api/rate-limits.ts, GET /metrics). */
  apiEdge: ApiEdgeSettings;
}

/** ApiEdgeSettings are the API's request budget and the token /metrics asks for. */
export interface ApiEdgeSettings {
  /** SLIPWAY_API_REQUESTS_PER_MINUTE: requests (refused ones too) per client address and per identity; unset = the API's default. */
  requestsPerMinute: number | undefined;
  /** SLIPWAY_METRICS_TOKEN: when set, GET /metrics (the API's and the worker's) needs it as a bearer token. */
  metricsToken: string | undefined;
}

/** DEFAULT_TASK_QUEUE is the task queue workers poll when SLIPWAY_TASK_QUEUE is unset. */
export const DEFAULT_TASK_QUEUE = 'slipway';

/** loadConfig reads the Slipway environment variables once, applying DESIGN.md's defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SlipwayConfig {
  const secretEnvAllow = parseSecretEnvAllow(env.SLIPWAY_SECRET_ENV_ALLOW);
  const apiPort = Number(env.SLIPWAY_API_PORT ?? 8787);
  if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) {
    throw new Error(`SLIPWAY_API_PORT must be a port number (0-65535), got "${env.SLIPWAY_API_PORT}"`);
  }
  return {
    taskQueue: env.SLIPWAY_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    mongodbUri: env.SLIPWAY_MONGODB_URI || 'mongodb://127.0.0.1:27017/slipway',
    mongodbUriGiven: Boolean(env.SLIPWAY_MONGODB_URI),
    mongodbCaFile: env.SLIPWAY_MONGODB_CA_FILE || undefined,
    apiUrl: env.SLIPWAY_API_URL || `http://127.0.0.1:${apiPort}`,
    apiUrlGiven: Boolean(env.SLIPWAY_API_URL),
    apiToken: env.SLIPWAY_TOKEN || undefined,
    apiPort,
    pipelinesDir: env.SLIPWAY_PIPELINES || undefined,
    user: env.SLIPWAY_USER || safeOsUser(),
    apiTokensFile: env.SLIPWAY_API_TOKENS || undefined,
    oidc: loadOidc(env),
    ciOidcRulesFile: env.SLIPWAY_CI_OIDC_RULES || undefined,
    codecKeys: env.SLIPWAY_CODEC_KEYS || undefined,
    pluginSettings: loadPluginSettings(env),
    localServingDir: env.SLIPWAY_LOCAL_SERVING_DIR || undefined,
    apiSigningKeyFile: env.SLIPWAY_API_SIGNING_KEY || undefined,
    auditSigningKeyFile: env.SLIPWAY_AUDIT_SIGNING_KEY || undefined,
    apiPublicKeys: env.SLIPWAY_API_PUBLIC_KEYS || undefined,
    lineRecheckMs: loadLineRecheck(env.SLIPWAY_LINE_RECHECK_INTERVAL),
    apiEdge: loadApiEdge(env),
    secretEnvAllow,
    secretEnv: pickAllowedSecrets(env, secretEnvAllow),
    publicUrl: loadPublicUrl(env, apiPort),
    uiOrigins: (env.SLIPWAY_UI_ORIGINS || 'http://127.0.0.1:8233,http://localhost:8233').split(',').map((o) => o.trim()).filter(Boolean),
    temporalUiUrl: parseTemporalUiUrl(env.SLIPWAY_TEMPORAL_UI_URL),
  };
}

// A snapshot, so plugins never read process.env themselves; empty counts as unset, as for every variable here.
function loadPluginSettings(env: NodeJS.ProcessEnv): PluginSettings {
  return Object.freeze(Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('SLIPWAY_') && Boolean(e[1]))));
}

function loadLineRecheck(value: string | undefined): number | undefined {
  if (!value) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    ms = NaN;
  }
  if (!Number.isFinite(ms) || ms < 1_000 || ms > 3_600_000) {
    throw new Error(`SLIPWAY_LINE_RECHECK_INTERVAL must be a duration from 1s to 1h such as "30s", got "${value}"`);
  }
  return ms;
}

function loadApiEdge(env: NodeJS.ProcessEnv): ApiEdgeSettings {
  const { SLIPWAY_API_REQUESTS_PER_MINUTE: perMinute, SLIPWAY_METRICS_TOKEN: metricsToken } = env;
  let requestsPerMinute: number | undefined;
  if (perMinute) {
    requestsPerMinute = Number(perMinute);
    if (!Number.isInteger(requestsPerMinute) || requestsPerMinute < 1) throw new Error(`SLIPWAY_API_REQUESTS_PER_MINUTE must be a whole number of requests per minute (at least 1), got "${perMinute}"`);
  }
  if (metricsToken !== undefined && metricsToken !== '' && metricsToken.length < 16) throw new Error('SLIPWAY_METRICS_TOKEN must be at least 16 characters (make one with: openssl rand -hex 32)');
  if (metricsToken && /\s/.test(metricsToken)) throw new Error('SLIPWAY_METRICS_TOKEN must not contain spaces (it is sent as "Authorization: Bearer <token>")');
  return { requestsPerMinute, metricsToken: metricsToken || undefined };
}

// Events: the base of links into the board, checked here so a typo fails at start, not in every message.
function loadPublicUrl(env: NodeJS.ProcessEnv, apiPort: number): string {
  const url = env.SLIPWAY_PUBLIC_URL || env.SLIPWAY_API_URL || `http://127.0.0.1:${apiPort}`;
  if (!/^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(url)) {
    throw new Error(`SLIPWAY_PUBLIC_URL must be the http(s) URL people open the release board at, such as "https://slipway.example.com" (got "${url}")`);
  }
  return url.replace(/\/+$/, '');
}

function loadOidc(env: NodeJS.ProcessEnv): SlipwayConfig['oidc'] {
  if (env.SLIPWAY_OIDC_CLIENT_ID && !env.SLIPWAY_OIDC_ISSUER) throw new Error('SLIPWAY_OIDC_CLIENT_ID is set without SLIPWAY_OIDC_ISSUER: the board logs in against that issuer; set SLIPWAY_OIDC_ISSUER, SLIPWAY_OIDC_AUDIENCE, SLIPWAY_OIDC_JWKS_URL and SLIPWAY_OIDC_USERS too');
  const { SLIPWAY_OIDC_ISSUER: issuer, SLIPWAY_OIDC_AUDIENCE: audience, SLIPWAY_OIDC_JWKS_URL: jwksUrl, SLIPWAY_OIDC_USERS: usersFile } = env;
  if (!issuer && !audience && !jwksUrl) return undefined;
  if (!issuer || !audience || !jwksUrl) {
    throw new Error('OIDC needs all of SLIPWAY_OIDC_ISSUER, SLIPWAY_OIDC_AUDIENCE and SLIPWAY_OIDC_JWKS_URL (or none of them)');
  }
  if (!usersFile) throw new Error('OIDC needs SLIPWAY_OIDC_USERS: a YAML file mapping each issuer + subject (the token\'s "sub") to a Slipway user and roles; names from email or preferred_username claims are not trusted');
  return { issuer, audience, jwksUrl, usersFile, ...loadOidcClient(env.SLIPWAY_OIDC_CLIENT_ID, issuer) };
}

// The board's login client: public (PKCE, no secret), and the page reaches the issuer from the browser, so its address must be one a browser can trust.
function loadOidcClient(clientId: string | undefined, issuer: string): { clientId?: string } {
  if (!clientId) return {};
  if (!/^[\x21-\x7e]{1,256}$/.test(clientId)) throw new Error('SLIPWAY_OIDC_CLIENT_ID must be the public client id the identity provider gave the board (1-256 printable characters, no spaces); never a client secret');
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  const loopback = url && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new Error(`SLIPWAY_OIDC_ISSUER: the board's login (SLIPWAY_OIDC_CLIENT_ID) reads "${issuer}" from the browser: it must be https:// (http:// only on 127.0.0.1, localhost or [::1])`);
  }
  return { clientId };
}

function safeOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

// The board puts this URL in links: only http(s), so a setting can never make a link run script.
function parseTemporalUiUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`SLIPWAY_TEMPORAL_UI_URL must be the Temporal Web UI's address, e.g. http://127.0.0.1:8233; got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`SLIPWAY_TEMPORAL_UI_URL must start with http:// or https://; got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

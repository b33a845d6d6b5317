/**
 * Configuration, read once from the environment with typed defaults.
 * Nothing deeper than the entry points reads process.env.
 */
import os from 'node:os';
import type { PluginSettings } from '../lib/plugins';

/** SlipwayConfig is everything the CLI, workers and API need to find their services. */
export interface SlipwayConfig {
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  mongodbUri: string;
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
  /** OIDC: JWTs from this issuer/audience, verified against this JWKS URL. */
  oidc: { issuer: string; audience: string; jwksUrl: string } | undefined;
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
  /** SLIPWAY_API_SIGNING_KEY: the API's Ed25519 private key (PKCS#8 PEM file); signs decisions, audit checkpoints and evidence bundles. */
  apiSigningKeyFile: string | undefined;
  /** SLIPWAY_AUDIT_SIGNING_KEY: a worker's (or CLI's) key for signing audit checkpoints, same format; unset means it signs none. */
  auditSigningKeyFile: string | undefined;
  /** SLIPWAY_API_PUBLIC_KEYS: trusted raw Ed25519 public keys (`base64,…`), parsed by lib/signing.ts parseTrustedKeys. */
  apiPublicKeys: string | undefined;
  /** SLIPWAY_PUBLIC_URL: where people reach the release board; links in events start with it (default: apiUrl). */
  publicUrl: string;
}

/** DEFAULT_TASK_QUEUE is the task queue workers poll when SLIPWAY_TASK_QUEUE is unset. */
export const DEFAULT_TASK_QUEUE = 'slipway';

/** loadConfig reads the Slipway environment variables once, applying DESIGN.md's defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SlipwayConfig {
  const apiPort = Number(env.SLIPWAY_API_PORT ?? 8787);
  if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) {
    throw new Error(`SLIPWAY_API_PORT must be a port number (0-65535), got "${env.SLIPWAY_API_PORT}"`);
  }
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.SLIPWAY_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    mongodbUri: env.SLIPWAY_MONGODB_URI || 'mongodb://127.0.0.1:27017/slipway',
    mongodbUriGiven: Boolean(env.SLIPWAY_MONGODB_URI),
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
    publicUrl: loadPublicUrl(env, apiPort),
    uiOrigins: (env.SLIPWAY_UI_ORIGINS || 'http://127.0.0.1:8233,http://localhost:8233').split(',').map((o) => o.trim()).filter(Boolean),
  };
}

// A snapshot, so plugins never read process.env themselves; empty counts as unset, as for every variable here.
function loadPluginSettings(env: NodeJS.ProcessEnv): PluginSettings {
  return Object.freeze(Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('SLIPWAY_') && Boolean(e[1]))));
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
  const { SLIPWAY_OIDC_ISSUER: issuer, SLIPWAY_OIDC_AUDIENCE: audience, SLIPWAY_OIDC_JWKS_URL: jwksUrl } = env;
  if (!issuer && !audience && !jwksUrl) return undefined;
  if (!issuer || !audience || !jwksUrl) {
    throw new Error('OIDC needs all of SLIPWAY_OIDC_ISSUER, SLIPWAY_OIDC_AUDIENCE and SLIPWAY_OIDC_JWKS_URL (or none of them)');
  }
  return { issuer, audience, jwksUrl };
}

function safeOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * Configuration, read once from the environment with typed defaults.
 * Nothing deeper than the entry points reads process.env.
 */
import os from 'node:os';

/** SlipwayConfig is everything the CLI, workers and API need to find their services. */
export interface SlipwayConfig {
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  mongodbUri: string;
  /** Whether SLIPWAY_MONGODB_URI was given explicitly (dev stack then starts no database). */
  mongodbUriGiven: boolean;
  apiUrl: string;
  apiPort: number;
  pipelinesDir: string | undefined;
  user: string;
  /** YAML/JSON file of API bearer tokens (see api/auth.ts). */
  apiTokensFile: string | undefined;
  /** OIDC: JWTs from this issuer/audience, verified against this JWKS URL. */
  oidc: { issuer: string; audience: string; jwksUrl: string } | undefined;
  /** Payload encryption keys (`id:base64,…`, first is current); unset means payloads are not encrypted. */
  codecKeys: string | undefined;
  /** The `webhook` deploy target (docs/webhook-protocol.md): endpoint and signing secret; absent = no such target. */
  webhook: { url: string; secret: string } | undefined;
  /** Origins allowed to call the codec endpoint from a browser (the Temporal Web UI). */
  uiOrigins: string[];
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
    apiPort,
    pipelinesDir: env.SLIPWAY_PIPELINES || undefined,
    user: env.SLIPWAY_USER || safeOsUser(),
    apiTokensFile: env.SLIPWAY_API_TOKENS || undefined,
    oidc: loadOidc(env),
    codecKeys: env.SLIPWAY_CODEC_KEYS || undefined,
    webhook: loadWebhook(env),
    uiOrigins: (env.SLIPWAY_UI_ORIGINS || 'http://127.0.0.1:8233,http://localhost:8233').split(',').map((o) => o.trim()).filter(Boolean),
  };
}

function loadWebhook(env: NodeJS.ProcessEnv): SlipwayConfig['webhook'] {
  const { SLIPWAY_WEBHOOK_URL: url, SLIPWAY_WEBHOOK_SECRET: secret } = env;
  if (!url && !secret) return undefined;
  if (!url || !secret) throw new Error('the webhook target needs both SLIPWAY_WEBHOOK_URL and SLIPWAY_WEBHOOK_SECRET (or neither)');
  return { url, secret };
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

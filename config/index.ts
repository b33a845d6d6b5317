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
  };
}

function safeOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * The worker's sandbox for what pipelines name: the only way a gate reads a
 * secret (SLIPWAY_SECRET_ENV_ALLOW, domain/secret-env.ts), a file
 * (SLIPWAY_FILE_ROOTS, lib/files.ts) or a URL (lib/outbound.ts). Built once
 * from the worker's configuration; a pipeline cannot widen it.
 */
import { parseSecretEnvAllow, secretEnvRefusal, type SecretEnvAllow } from '../domain/secret-env';
import { FileRefusedError, fileAccessFromSettings, type FileAccess } from './files';
import { OutboundRefusedError, outboundPolicyFromSettings, type OutboundPolicy } from './outbound';
import type { PluginSettings } from './plugins';

/** SecretRefusedError says a pipeline named a variable the worker may not read a secret from; the message names the setting. */
export class SecretRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretRefusedError';
  }
}

/** Sandbox is what a worker lets pipelines reach. */
export interface Sandbox {
  /** secret is the value of an allowed variable (undefined when unset); a variable not allowed throws SecretRefusedError naming `field`. */
  secret(name: string, field: string): string | undefined;
  secretEnvAllow: SecretEnvAllow;
  files: FileAccess;
  outbound: OutboundPolicy;
}

/** SandboxOptions are the worker's SLIPWAY_* settings and the values of the allowed secret variables (config's secretEnv). */
export interface SandboxOptions {
  settings: PluginSettings;
  secrets?: Readonly<Record<string, string>>;
}

/** createSandbox builds the sandbox from the worker's settings; a bad setting throws naming it, so the worker does not start. */
export function createSandbox(options: SandboxOptions): Sandbox {
  const secretEnvAllow = parseSecretEnvAllow(options.settings.SLIPWAY_SECRET_ENV_ALLOW);
  const secrets = options.secrets ?? {};
  return Object.freeze({
    secret(name: string, field: string) {
      const refusal = secretEnvRefusal(name, secretEnvAllow);
      if (refusal !== undefined) throw new SecretRefusedError(`${field}: ${refusal}`);
      return Object.hasOwn(secrets, name) ? secrets[name] : undefined;
    },
    secretEnvAllow,
    files: fileAccessFromSettings(options.settings),
    outbound: outboundPolicyFromSettings(options.settings),
  });
}

/** isSandboxRefusal says whether an error is the sandbox refusing a secret, a file or a URL by policy (audited); a missing or unreadable file is an ordinary failure. */
export function isSandboxRefusal(err: unknown): err is SecretRefusedError | FileRefusedError | OutboundRefusedError {
  if (err instanceof FileRefusedError) return err.kind !== 'missing' && err.kind !== 'unreadable';
  return err instanceof SecretRefusedError || err instanceof OutboundRefusedError;
}

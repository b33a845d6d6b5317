/**
 * How every Slipway process reaches Temporal: the SDK's own environment
 * configuration (@temporalio/envconfig), so Slipway is set up exactly like
 * the `temporal` CLI: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, TEMPORAL_GRPC_META_*, TEMPORAL_PROFILE and the TOML profiles
 * of TEMPORAL_CONFIG_FILE (default ~/.config/temporalio/temporal.toml).
 * Certificates and keys are read and checked here, once, at start, so a bad
 * setting fails with the name of the variable or profile key to fix.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { loadClientConfig, loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';

/** TemporalTransport is what both Connection.connect and NativeConnection.connect take besides the address. */
export interface TemporalTransport {
  /** TLS on (true or a config with CA, server name and client pair), off (false), or unset (plain). */
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** TEMPORAL_GRPC_META_* / the profile's grpc_meta: extra gRPC headers on every call. */
  metadata?: Record<string, string>;
}

/** TemporalSettings are the resolved address, namespace and transport every client and worker of one process uses. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  transport: TemporalTransport;
  /** Where the settings came from, for logs and errors (never a secret). */
  source: string;
  /** The setting that chose the address (TEMPORAL_ADDRESS, or the profile key), for "cannot reach" messages. */
  addressFrom: string;
}

/** DEFAULT_TEMPORAL_ADDRESS is where Slipway looks for Temporal when nothing names an address (the local dev server). */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** TemporalSettingsError is a bad Temporal setting; its message names the variable or profile key to fix. */
export class TemporalSettingsError extends Error {
  override name = 'TemporalSettingsError';
}

// Each TLS file setting: the profile field, its environment variables and its TOML keys.
const TLS_FILES = [
  { field: 'clientCert', env: 'TEMPORAL_TLS_CLIENT_CERT', key: 'client_cert', kind: 'certificate' },
  { field: 'clientKey', env: 'TEMPORAL_TLS_CLIENT_KEY', key: 'client_key', kind: 'key' },
  { field: 'serverCACert', env: 'TEMPORAL_TLS_SERVER_CA_CERT', key: 'server_ca_cert', kind: 'certificate' },
] as const;

/**
 * loadTemporalSettings resolves the Temporal connection the way the
 * `temporal` CLI does: the profile (TEMPORAL_PROFILE, else "default") of the
 * config file, then TEMPORAL_* variables over it. Empty variables count as
 * unset, as everywhere in Slipway.
 */
export function loadTemporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => Boolean(e[1])));
  const fileName = vars.TEMPORAL_CONFIG_FILE ?? 'the default temporal.toml (~/.config/temporalio/temporal.toml)';
  if (vars.TEMPORAL_CONFIG_FILE && !fs.existsSync(vars.TEMPORAL_CONFIG_FILE)) {
    throw new TemporalSettingsError(`TEMPORAL_CONFIG_FILE: no file at ${vars.TEMPORAL_CONFIG_FILE}; point it at a temporal.toml or unset it`);
  }
  let profiles: Record<string, ClientConfigProfile>;
  try {
    profiles = loadClientConfig({ overrideEnvVars: vars }).profiles;
  } catch (err) {
    throw new TemporalSettingsError(`${fileName} (TEMPORAL_CONFIG_FILE) cannot be read as Temporal client config: ${(err as Error).message}`);
  }
  const profileName = vars.TEMPORAL_PROFILE ?? 'default';
  if (vars.TEMPORAL_PROFILE && !Object.hasOwn(profiles, profileName)) {
    const known = Object.keys(profiles);
    throw new TemporalSettingsError(`TEMPORAL_PROFILE=${profileName}: no [profile.${profileName}] in ${fileName}${known.length ? `; profiles there: ${known.join(', ')}` : ''}`);
  }
  const fromFile = Object.hasOwn(profiles, profileName);
  const where = (envName: string, key: string) => (vars[envName] !== undefined ? envName : `${key} in [profile.${profileName}] of ${fileName}`);
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    throw new TemporalSettingsError(`Temporal settings (profile "${profileName}" of ${fileName} and TEMPORAL_* variables): ${(err as Error).message}`);
  }

  // Read and parse every file now: a typo in a path should stop the process at start, not at the first call.
  const tls = profile.tls;
  const parsed: Partial<Record<(typeof TLS_FILES)[number]['field'], crypto.X509Certificate | crypto.KeyObject>> = {};
  for (const spec of TLS_FILES) {
    const source = tls?.[spec.field];
    if (!source) continue;
    const name = 'path' in source ? where(`${spec.env}_PATH`, `tls.${spec.key}_path`) : where(`${spec.env}_DATA`, `tls.${spec.key}_data`);
    parsed[spec.field] = parsePem(source, name, spec.kind);
  }
  if (Boolean(parsed.clientCert) !== Boolean(parsed.clientKey)) {
    const [has, lacks] = parsed.clientCert ? ['certificate', 'TEMPORAL_TLS_CLIENT_KEY_PATH (or tls.client_key_path in the profile)'] : ['key', 'TEMPORAL_TLS_CLIENT_CERT_PATH (or tls.client_cert_path in the profile)'];
    throw new TemporalSettingsError(`mTLS needs a client certificate and its key, but only the client ${has} is set: set ${lacks} too`);
  }
  if (parsed.clientCert && parsed.clientKey && !(parsed.clientCert as crypto.X509Certificate).checkPrivateKey(parsed.clientKey as crypto.KeyObject)) {
    throw new TemporalSettingsError(
      `the client key (${where('TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path')}) is not the key of the client certificate (${where('TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path')})`,
    );
  }

  const { namespace, connectionOptions } = toClientOptions(profile);
  const transport: TemporalTransport = {};
  if (connectionOptions.tls !== undefined && connectionOptions.tls !== null) transport.tls = connectionOptions.tls;
  if (connectionOptions.apiKey) transport.apiKey = connectionOptions.apiKey as string;
  if (connectionOptions.metadata && Object.keys(connectionOptions.metadata).length > 0) transport.metadata = connectionOptions.metadata as Record<string, string>;
  return {
    address: connectionOptions.address || DEFAULT_TEMPORAL_ADDRESS,
    namespace: namespace || 'default',
    transport,
    source: fromFile ? `profile "${profileName}" of ${fileName}, then TEMPORAL_* variables` : 'TEMPORAL_* variables',
    addressFrom: vars.TEMPORAL_ADDRESS || !fromFile || !profiles[profileName]?.address ? 'TEMPORAL_ADDRESS' : where('TEMPORAL_ADDRESS', 'address'),
  };
}

/**
 * devTemporalSettings is how `slipway dev` reaches the server it started: plain
 * loopback, no profile, no TLS or API key (a user's Temporal Cloud profile
 * must not leak into the local stack); TEMPORAL_NAMESPACE still applies.
 */
export function devTemporalSettings(address: string, env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return { address, namespace: env.TEMPORAL_NAMESPACE || 'default', transport: {}, source: 'the dev stack slipway started', addressFrom: 'slipway dev' };
}

/** describeTemporal says where a process connects, for logs: address, namespace, TLS/mTLS/API key, never a secret. */
export function describeTemporal(settings: TemporalSettings): Record<string, unknown> {
  const { tls, apiKey } = settings.transport;
  const mtls = typeof tls === 'object' && Boolean(tls.clientCertPair);
  return { temporalAddress: settings.address, namespace: settings.namespace, temporalTls: mtls ? 'mtls' : tls ? 'tls' : 'off', temporalApiKey: Boolean(apiKey), temporalSettings: settings.source };
}

// Node's codes for "this CA did not sign the server's certificate".
const UNTRUSTED_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE']);

/**
 * explainConnectFailure turns a failed connect into a message that says why:
 * gRPC reports a refused TLS handshake only as "failed to connect before the
 * deadline", so with TLS on, one plain TLS handshake with the same settings
 * finds the certificate problem and names the setting to fix.
 */
export async function explainConnectFailure(address: string, transport: TemporalTransport, err: unknown): Promise<string> {
  const original = err instanceof Error ? err.message : String(err);
  const tlsConfig = transport.tls;
  if (!tlsConfig) return original;
  const options = typeof tlsConfig === 'object' ? tlsConfig : {};
  const { host, port } = splitAddress(address);
  const serverName = options.serverNameOverride ?? host;
  const failure = await new Promise<(Error & { code?: string }) | undefined>((resolve) => {
    const socket = tls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(net.isIP(serverName) ? {} : { servername: serverName }),
      ...(options.serverNameOverride ? { checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverName, cert) } : {}),
      ...(options.serverRootCACertificate ? { ca: Buffer.from(options.serverRootCACertificate) } : {}),
      ...(options.clientCertPair ? { cert: Buffer.from(options.clientCertPair.crt), key: Buffer.from(options.clientCertPair.key) } : {}),
      timeout: 3_000,
    });
    // An HTTP/2 server speaks first (SETTINGS): data means the handshake was accepted; a refused
    // client certificate comes as an alert only after the client's side of a TLS 1.3 handshake is done.
    socket.once('data', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (e) => {
      socket.destroy();
      resolve(e);
    });
  });
  if (!failure) return original;
  if (failure.code && UNTRUSTED_CODES.has(failure.code)) {
    const caSetting = options.serverRootCACertificate ? 'the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path)' : 'the system CAs';
    return `TLS refused: the server's certificate is not signed by ${caSetting} (${failure.code}: ${failure.message}); point TEMPORAL_TLS_SERVER_CA_CERT_PATH at the CA that signed it`;
  }
  if (failure.code && /ALERT_(CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(failure.code)) {
    const offered = options.clientCertPair ? 'the client certificate in TEMPORAL_TLS_CLIENT_CERT_PATH (or tls.client_cert_path) is not one it trusts' : 'no client certificate is set';
    return `TLS refused by the server: it requires a client certificate (mTLS) and ${offered} (${failure.code}); set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH to a pair its CA signed`;
  }
  if (failure.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS refused: the server's certificate does not name ${serverName} (${failure.message}); set TEMPORAL_TLS_SERVER_NAME to a name it has`;
  }
  // Certificate codes are upper-case words (CERT_HAS_EXPIRED, …); ERR_SSL_*/ERR_TLS_* are handshake failures.
  if (failure.code && (/^ERR_(SSL|TLS)_/.test(failure.code) || /CERT/.test(failure.code))) {
    return `TLS handshake failed (${failure.code}: ${failure.message}); check the TEMPORAL_TLS_* settings`;
  }
  // Not TLS at all (refused, unknown host, …): say what the network said.
  return `${original} (${failure.code ?? 'error'}: ${failure.message})`;
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = at > 0 ? address.slice(0, at).replace(/^\[|\]$/g, '') : address;
  return { host, port: at > 0 ? Number(address.slice(at + 1)) : 7233 };
}

function parsePem(source: ConfigDataSource, name: string, kind: 'certificate' | 'key'): crypto.X509Certificate | crypto.KeyObject {
  let bytes: Buffer;
  if ('path' in source) {
    try {
      bytes = fs.readFileSync(source.path);
    } catch (err) {
      throw new TemporalSettingsError(`${name}: cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at a PEM ${kind} file`);
    }
  } else {
    bytes = Buffer.from(source.data);
  }
  try {
    return kind === 'certificate' ? new crypto.X509Certificate(bytes) : crypto.createPrivateKey(bytes);
  } catch {
    throw new TemporalSettingsError(`${name}: not a PEM ${kind === 'certificate' ? 'X.509 certificate' : 'private key'}`);
  }
}

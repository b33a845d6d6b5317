/**
 * Connection to the registry database (MongoDB or FerretDB over the wire),
 * and the keyed insert every store in it shares. TLS and authentication come
 * from the URI as the driver reads them (tls=true, authSource, user:password,
 * mongodb+srv); a CA file can be given apart (SLIPWAY_MONGODB_CA_FILE). The
 * password never appears in an error this module raises.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { MongoClient, type Collection, type Db } from 'mongodb';
import { isDuplicateKey } from './errors';

/** RegistryDb is an open connection and the database it points at. */
export interface RegistryDb {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** RegistryConnectOptions are the connection settings the URI cannot carry. */
export interface RegistryConnectOptions {
  /** SLIPWAY_MONGODB_CA_FILE: PEM CA bundle the server's certificate must chain to; turns TLS on. */
  caFile?: string;
}

/** connectRegistryDb opens the database named in the URI (default "slipway"). */
export async function connectRegistryDb(uri: string, options: RegistryConnectOptions = {}): Promise<RegistryDb> {
  if (options.caFile) checkCaFile(options.caFile);
  let client: MongoClient | undefined;
  try {
    client = new MongoClient(uri, {
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
      ...(options.caFile ? { tls: true, tlsCAFile: options.caFile } : {}),
    });
    await client.connect();
  } catch (err) {
    await client?.close().catch(() => undefined);
    // Driver messages can quote the URI (parse errors do): say it again without the password.
    // eslint-disable-next-line preserve-caught-error -- no cause: it would print the driver's error, password and all
    throw new Error(redactSecrets(`cannot reach the registry database at ${redactUri(uri)} (SLIPWAY_MONGODB_URI): ${(err as Error).message}`, uri));
  }
  const db = client.db(); // the URI's database, else "test"; our URIs always name one
  return { client, db, close: () => client.close() };
}

/** RegistrySettingsError is a bad registry setting (not an unreachable server); the message names the variable. */
export class RegistrySettingsError extends Error {
  override name = 'RegistrySettingsError';
}

function checkCaFile(file: string): void {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    throw new RegistrySettingsError(`SLIPWAY_MONGODB_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at the PEM CA bundle of the MongoDB server's certificate`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new RegistrySettingsError(`SLIPWAY_MONGODB_CA_FILE: ${file} is not a PEM certificate; point it at the PEM CA bundle of the MongoDB server's certificate`);
  }
}

// The userinfo of a mongodb:// or mongodb+srv:// URI: from the scheme to the last "@" before the options.
function userinfoOf(uri: string): { start: number; end: number } | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(uri);
  if (!scheme) return undefined;
  const query = uri.indexOf('?', scheme[0].length);
  const end = uri.lastIndexOf('@', query === -1 ? uri.length : query);
  return end >= scheme[0].length ? { start: scheme[0].length, end } : undefined;
}

/** redactUri hides the password of a connection string (user:***@), for messages and logs. */
export function redactUri(uri: string): string {
  const info = userinfoOf(uri);
  if (!info) return uri;
  const userinfo = uri.slice(info.start, info.end);
  const colon = userinfo.indexOf(':');
  if (colon === -1) return uri;
  return `${uri.slice(0, info.start)}${userinfo.slice(0, colon)}:***${uri.slice(info.end)}`;
}

/** redactSecrets removes the URI's password, as written and decoded, from any text (a driver's error message). */
export function redactSecrets(text: string, uri: string): string {
  const info = userinfoOf(uri);
  const userinfo = info ? uri.slice(info.start, info.end) : '';
  const colon = userinfo.indexOf(':');
  if (colon === -1) return text;
  const raw = userinfo.slice(colon + 1);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // not valid percent-encoding: the raw form is all there is
  }
  let out = text;
  for (const secret of [raw, decoded]) if (secret) out = out.split(secret).join('***');
  return out;
}

/**
 * insertIfAbsent writes a document keyed by _id once. Racing writers of the
 * same key both succeed: one inserts, the other's duplicate-key error means
 * "already there" (FerretDB reports racing upserts that way too).
 */
export async function insertIfAbsent<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<void> {
  try {
    await collection.insertOne(doc as Parameters<Collection<T>['insertOne']>[0]);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

/**
 * Connection to the registry database (MongoDB or FerretDB over the wire),
 * and the keyed insert every store in it shares.
 */
import { MongoClient, type Collection, type Db } from 'mongodb';
import { isDuplicateKey } from './errors';

/** RegistryDb is an open connection and the database it points at. */
export interface RegistryDb {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** connectRegistryDb opens the database named in the URI (default "slipway"). */
export async function connectRegistryDb(uri: string): Promise<RegistryDb> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000 });
  await client.connect();
  const db = client.db(); // the URI's database, else "test"; our URIs always name one
  return { client, db, close: () => client.close() };
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

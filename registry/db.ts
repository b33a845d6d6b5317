/**
 * Connection to the registry database (MongoDB or FerretDB over the wire).
 */
import { MongoClient, type Db } from 'mongodb';

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

/**
 * Activity factory: every side effect workflows need, with its dependencies
 * passed in so tests hand in real or fake parts without module mocking.
 */
import type { Db } from 'mongodb';

/** ActivityDeps are the parts activities talk to. */
export interface ActivityDeps {
  db: Db;
  clock?: () => Date;
}

/** StackCheckRecord is what the stack check writes and reads back. */
export interface StackCheckRecord {
  checkId: string;
  writtenAt: string;
  readBack: boolean;
}

/** createActivities builds the activities object registered on the worker. */
export function createActivities(deps: ActivityDeps) {
  const clock = deps.clock ?? (() => new Date());
  return {
    /** writeAndReadStackCheck upserts a document keyed by checkId and reads it back. */
    async writeAndReadStackCheck(checkId: string): Promise<StackCheckRecord> {
      const checks = deps.db.collection<{ _id: string; writtenAt: Date }>('stack_checks');
      // Upsert keyed by the id: a retried activity writes nothing twice.
      await checks.updateOne({ _id: checkId }, { $setOnInsert: { writtenAt: clock() } }, { upsert: true });
      const doc = await checks.findOne({ _id: checkId });
      return { checkId, writtenAt: doc?.writtenAt.toISOString() ?? '', readBack: doc !== null };
    },
  };
}

/** SlipwayActivities is the activity interface workflows proxy. */
export type SlipwayActivities = ReturnType<typeof createActivities>;

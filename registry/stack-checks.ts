/**
 * The stack check's marker documents: `slipway dev` writes one through a
 * workflow and an activity, and reads it back, to prove the whole stack works.
 */
import type { Collection, Db } from 'mongodb';
import { insertIfAbsent } from './db';

/** StackChecks writes and reads back stack-check markers, keyed by check id. */
export class StackChecks {
  private readonly checks: Collection<{ _id: string; writtenAt: Date }>;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.checks = db.collection('stack_checks');
  }

  /** writeAndRead writes the marker once (a retry writes nothing twice) and returns what reading it back found. */
  async writeAndRead(checkId: string): Promise<{ writtenAt: Date } | null> {
    await insertIfAbsent(this.checks, { _id: checkId, writtenAt: this.clock() });
    return this.checks.findOne({ _id: checkId });
  }
}

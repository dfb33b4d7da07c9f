// For each witness, the tree size it last cosigned for this log: the `old`
// size of the next add-checkpoint request. Kept in the primary's database so
// that a restarted primary does not begin every witness with a 409 round trip.
// Only an optimisation of round trips: a stale or lost value costs one 409
// and one resend, never a wrong cosignature.
import type BetterSqlite3 from 'better-sqlite3';

export interface CosignedSizes {
  /** The last size the witness is known to have cosigned, 0 if none. */
  get(witnessKeyHashHex: string): number;
  /** Durable once it returns (the database's own durability setting applies). */
  set(witnessKeyHashHex: string, size: number): void;
}

const TABLE = 'witness_cosigned_size';

export class SqliteCosignedSizes implements CosignedSizes {
  private readonly select: BetterSqlite3.Statement<[string], { size: number }>;
  private readonly upsert: BetterSqlite3.Statement<[string, number]>;

  constructor(db: BetterSqlite3.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (witness_key_hash TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL) STRICT`);
    this.select = db.prepare(`SELECT size FROM ${TABLE} WHERE witness_key_hash = ?`);
    this.upsert = db.prepare(
      `INSERT INTO ${TABLE} (witness_key_hash, size) VALUES (?, ?) ON CONFLICT (witness_key_hash) DO UPDATE SET size = excluded.size`,
    );
  }

  get(witnessKeyHashHex: string): number {
    return this.select.get(witnessKeyHashHex)?.size ?? 0;
  }

  set(witnessKeyHashHex: string, size: number): void {
    this.upsert.run(witnessKeyHashHex, size);
  }
}

// Errors of the tree store. Plain Errors (not LogError): they describe the
// node's own data, and whoever catches them decides what a client sees.

/** A replica was handed a leaf that differs from the one it already stores at `index`. */
export class TreeDivergenceError extends Error {
  constructor(readonly index: number) {
    super(`tree diverges at index ${index}: the new leaf differs from the stored one`);
    this.name = 'TreeDivergenceError';
  }
}

/** A replica was handed leaves starting beyond its end, which would leave a hole. */
export class TreeGapError extends Error {
  constructor(
    readonly size: number,
    readonly startIndex: number,
  ) {
    super(`gap: the tree has ${size} leaves, cannot append at index ${startIndex}`);
    this.name = 'TreeGapError';
  }
}

/** Stored data is inconsistent (missing, short or mismatching tiles). */
export class TreeIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeIntegrityError';
  }
}

/** The db-file is not a database SQLite can open (another kind of file, a directory, no access). */
export class DatabaseOpenError extends Error {
  constructor(
    readonly path: string,
    /** SQLite's own words, e.g. "file is not a database". */
    readonly reason: string,
  ) {
    super(`${path}: cannot open the database: ${reason}; check db-file`);
    this.name = 'DatabaseOpenError';
  }
}

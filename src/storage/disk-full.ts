// Recognises "no space left" from either storage layer: SQLite reports
// SQLITE_FULL (better-sqlite3 puts the code on the error), the file system
// ENOSPC or EDQUOT (a quota) on a file write. Such a failure is the node's
// condition, not the request's: it is answered 503, retried, and resolves by
// itself once an operator frees space.

const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

export function isDiskFull(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && FULL_CODES.has(code);
}

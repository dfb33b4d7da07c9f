// The manifest of a backup directory (manifest.json): what the copy holds and
// the SHA-256 of every file, so that restore can refuse a damaged or
// incomplete backup. Written last, atomically: a directory without it is not
// a backup. Pure: parse and format only.
import { LIFECYCLE_STATES, type LifecycleState } from '../lifecycle.js';

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_FORMAT = 'sigsum-log-backup/1';

/** File names inside a backup directory. */
export const BACKUP_FILES = { database: 'log.db', sth: 'sth', startup: 'sth.startup' } as const;
export type BackupFileRole = keyof typeof BACKUP_FILES;

export interface ManifestFile {
  name: string;
  role: BackupFileRole;
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
}

export interface ManifestHead {
  size: number;
  /** Lowercase hex. */
  root: string;
  /** Where it came from: the primary's sth file, or the replica's record of the published head. */
  source: 'sth-file' | 'replica-record';
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  /** versionString() of the software that took it. */
  software: string;
  /** ISO 8601 UTC, when the database snapshot was taken. */
  createdAt: string;
  /** The copied database's lifecycle state (restore always installs it as replica). */
  lifecycle: LifecycleState;
  /** The tree in the copied database. */
  tree: { size: number; root: string };
  /** The newest published (log-signed) tree head the node had, if any; size ≤ tree.size, same root at its size. */
  publishedHead: ManifestHead | null;
  files: ManifestFile[];
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export function formatManifest(m: BackupManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function parseManifest(text: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`not JSON: ${(err as Error).message}`);
  }
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ManifestError(`${what} must be an object`);
    return v as Record<string, unknown>;
  };
  const size = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ManifestError(`${what} must be a non-negative integer`);
    return v;
  };
  const hex = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !HEX64.test(v)) throw new ManifestError(`${what} must be 64 lowercase hex digits`);
    return v;
  };
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v === '') throw new ManifestError(`${what} must be a non-empty string`);
    return v;
  };
  const m = obj(raw, 'the manifest');
  if (m.format !== MANIFEST_FORMAT) throw new ManifestError(`format is ${JSON.stringify(m.format)}, this program reads ${MANIFEST_FORMAT}`);
  const lifecycle = m.lifecycle;
  if (typeof lifecycle !== 'string' || !(LIFECYCLE_STATES as readonly string[]).includes(lifecycle)) {
    throw new ManifestError(`lifecycle must be one of ${LIFECYCLE_STATES.join(', ')}`);
  }
  const tree = obj(m.tree, 'tree');
  let publishedHead: ManifestHead | null = null;
  if (m.publishedHead !== null) {
    const h = obj(m.publishedHead, 'publishedHead');
    if (h.source !== 'sth-file' && h.source !== 'replica-record') throw new ManifestError('publishedHead.source must be sth-file or replica-record');
    publishedHead = { size: size(h.size, 'publishedHead.size'), root: hex(h.root, 'publishedHead.root'), source: h.source };
  }
  if (!Array.isArray(m.files)) throw new ManifestError('files must be an array');
  const roles = Object.keys(BACKUP_FILES) as BackupFileRole[];
  const files = m.files.map((f, i): ManifestFile => {
    const o = obj(f, `files[${i}]`);
    const role = o.role as BackupFileRole;
    if (!roles.includes(role)) throw new ManifestError(`files[${i}].role must be one of ${roles.join(', ')}`);
    if (o.name !== BACKUP_FILES[role]) throw new ManifestError(`files[${i}]: the ${role} file is named ${BACKUP_FILES[role]}`);
    return { name: BACKUP_FILES[role], role, bytes: size(o.bytes, `files[${i}].bytes`), sha256: hex(o.sha256, `files[${i}].sha256`) };
  });
  if (new Set(files.map((f) => f.role)).size !== files.length) throw new ManifestError('a file is listed twice');
  if (!files.some((f) => f.role === 'database')) throw new ManifestError('no database file is listed');
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    software: str(m.software, 'software'),
    createdAt: str(m.createdAt, 'createdAt'),
    lifecycle: lifecycle as LifecycleState,
    tree: { size: size(tree.size, 'tree.size'), root: hex(tree.root, 'tree.root') },
    publishedHead,
    files,
  };
  if (publishedHead !== null && publishedHead.size > manifest.tree.size) {
    throw new ManifestError(`the published head (size ${publishedHead.size}) is larger than the tree (size ${manifest.tree.size})`);
  }
  return manifest;
}

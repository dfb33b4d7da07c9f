// The Sigsum policy file (sigsum-go doc/policy.md): known logs, known
// witnesses, and the quorum rule that decides whether a set of witness
// cosignatures is enough. Line syntax:
//
//   log <pubkey hex> [<url>]
//   witness <name> <pubkey hex> [<url>]
//   group <name> <k|any|all> <member>...
//   quorum <name>            (exactly once; `none` = no cosignatures needed)
//
// Fields are separated by spaces/tabs; lines whose first field starts with
// '#' are comments. Names may only refer to earlier lines, so the quorum is
// a tree (no cycles), and each name may be a group member only once.
//
// Public keys are raw hex only (any case), as in sigsum-go's parser and in
// the Debian sigsum-go 1.0.0 tools: OpenSSH and vkey forms are rejected, so
// a policy we accept is one sigsum-verify accepts too. sigsum-key converts.
import { keyHash } from '../crypto/index.js';
import { ConfigError } from '../errors.js';
import { fromHex, HexError, toHex } from '../hex.js';
import { asPublicKey, PUBLIC_KEY_SIZE, type Hash, type PublicKey } from '../types.js';

export class PolicyError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export interface PolicyLog {
  publicKey: PublicKey;
  keyHash: Hash;
  url?: string;
}

export interface PolicyWitness extends PolicyLog {
  name: string;
}

/** A node of the quorum tree. `none` is a group with threshold 0 and no members. */
export type QuorumNode =
  | { kind: 'witness'; name: string; keyHashHex: string }
  | { kind: 'group'; name: string; threshold: number; members: QuorumNode[] };

export interface Policy {
  logs: PolicyLog[];
  witnesses: PolicyWitness[];
  quorum: QuorumNode;
}

export const QUORUM_NONE = 'none';

const FIELD_SEP = /[ \t]+/;
// policy.md: only tab and newline among control characters; DEL is not allowed.
const BAD_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;

// base64 of the blob's start: uint32 length 11, then "ssh-ed25519".
const SSH_ED25519_BLOB_PREFIX = 'AAAAC3NzaC1lZDI1NTE5';

// signed-note vkey: <name>+<8 hex digits of key ID>+<base64>.
const VKEY_SHAPE = /^[^+]+\+[0-9a-fA-F]{8}\+/;

/**
 * How to turn a key written in another encoding into hex, when the field
 * looks like one: pasting a key file's line is the likely mistake, and the
 * bare "not hex" would not say what to do about it.
 */
function conversionHint(field: string): string {
  // An OpenSSH line's first field is the key type, its second the base64 blob.
  if (field.startsWith('ssh-') || field.startsWith(SSH_ED25519_BLOB_PREFIX)) {
    return ' (an OpenSSH public key? convert it with `sigsum-key to-hex`)';
  }
  if (VKEY_SHAPE.test(field)) return ' (a vkey? convert it with `sigsum-key from-vkey | sigsum-key to-hex`)';
  return '';
}

function parseKey(field: string): PublicKey {
  if (field.length !== 2 * PUBLIC_KEY_SIZE) {
    throw new PolicyError(`public key must be ${2 * PUBLIC_KEY_SIZE} hex characters${conversionHint(field)}`);
  }
  try {
    return asPublicKey(fromHex(field));
  } catch (e) {
    if (e instanceof HexError) throw new PolicyError(`invalid public key: ${e.message}${conversionHint(field)}`);
    throw e;
  }
}

/** Mirrors Go's strconv.Atoi, which sigsum-go uses, so policies it accepts are accepted here. */
function parseThreshold(s: string, n: number): number {
  let k: number;
  if (s === 'any') k = 1;
  else if (s === 'all') k = n;
  else if (/^[+-]?[0-9]+$/.test(s)) k = Number(s);
  else throw new PolicyError(`invalid threshold '${s}'`);
  if (!(k >= 1 && k <= n)) throw new PolicyError(`threshold ${s} out of range for ${n} members`);
  return k;
}

class Builder {
  readonly logs: PolicyLog[] = [];
  readonly witnesses: PolicyWitness[] = [];
  quorum: QuorumNode | undefined;
  private readonly names = new Map<string, QuorumNode>([
    [QUORUM_NONE, { kind: 'group', name: QUORUM_NONE, threshold: 0, members: [] }],
  ]);
  // Names already used as a member, with the group that used them.
  private readonly used = new Map<string, string>([[QUORUM_NONE, '']]);

  log(args: string[]): void {
    const usage = 'log line needs a public key and an optional url';
    if (args.length < 1) throw new PolicyError(usage);
    // The key is checked before the field count so that a pasted OpenSSH
    // line (several fields) gets the conversion hint.
    const publicKey = parseKey(args[0]!);
    if (args.length > 2) throw new PolicyError(usage);
    const kh = keyHash(publicKey);
    if (this.logs.some((l) => toHex(l.keyHash) === toHex(kh))) throw new PolicyError(`duplicate log ${args[0]}`);
    this.logs.push({ publicKey, keyHash: kh, ...(args[1] !== undefined ? { url: args[1] } : {}) });
  }

  witness(args: string[]): void {
    const usage = 'witness line needs a name, a public key and an optional url';
    if (args.length < 2) throw new PolicyError(usage);
    const name = args[0]!;
    if (this.names.has(name)) throw new PolicyError(`duplicate name '${name}'`);
    // As for log lines, the key before the field count, for the hint.
    const publicKey = parseKey(args[1]!);
    if (args.length > 3) throw new PolicyError(usage);
    const kh = keyHash(publicKey);
    const keyHashHex = toHex(kh);
    if (this.witnesses.some((w) => toHex(w.keyHash) === keyHashHex)) throw new PolicyError(`duplicate witness ${args[1]}`);
    this.witnesses.push({ name, publicKey, keyHash: kh, ...(args[2] !== undefined ? { url: args[2] } : {}) });
    this.names.set(name, { kind: 'witness', name, keyHashHex });
  }

  group(args: string[]): void {
    if (args.length < 3) throw new PolicyError('group line needs a name, a threshold and at least one member');
    const [name, thresholdText, ...memberNames] = args as [string, string, ...string[]];
    if (this.names.has(name)) throw new PolicyError(`duplicate name '${name}'`);
    const threshold = parseThreshold(thresholdText, memberNames.length);
    const members = memberNames.map((m) => {
      const parent = this.used.get(m);
      if (parent !== undefined) {
        throw new PolicyError(parent === '' ? `'${m}' cannot be a group member` : `'${m}' is already a member of '${parent}'`);
      }
      const node = this.names.get(m);
      if (node === undefined) throw new PolicyError(`undefined name '${m}'`);
      this.used.set(m, name);
      return node;
    });
    this.names.set(name, { kind: 'group', name, threshold, members });
  }

  setQuorum(args: string[]): void {
    if (args.length !== 1) throw new PolicyError('quorum line needs exactly one name');
    if (this.quorum !== undefined) throw new PolicyError('quorum can only be set once');
    const node = this.names.get(args[0]!);
    if (node === undefined) throw new PolicyError(`undefined name '${args[0]}'`);
    this.quorum = node;
  }
}

/** Parses a policy file. Errors are PolicyError with a `<line>: ` prefix. */
export function parsePolicy(text: string): Policy {
  const b = new Builder();
  // Like Go's bufio.Scanner (as sigsum-go reads it): a final line may lack its
  // newline, and one CR before a newline is dropped.
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    try {
      if (BAD_CHAR.test(line)) throw new PolicyError('invalid control character');
      const fields = line.split(FIELD_SEP).filter((f) => f !== '');
      if (fields.length === 0 || fields[0]!.startsWith('#')) return;
      const [keyword, ...args] = fields as [string, ...string[]];
      switch (keyword) {
        case 'log':
          return b.log(args);
        case 'witness':
          return b.witness(args);
        case 'group':
          return b.group(args);
        case 'quorum':
          return b.setQuorum(args);
        default:
          throw new PolicyError(`unknown keyword '${keyword}'`);
      }
    } catch (e) {
      if (e instanceof PolicyError) throw new PolicyError(`${lineNo}: ${e.message}`);
      throw e;
    }
  });
  if (b.quorum === undefined) throw new PolicyError('no quorum defined');
  return { logs: b.logs, witnesses: b.witnesses, quorum: b.quorum };
}

function satisfied(node: QuorumNode, cosigned: ReadonlySet<string>): boolean {
  if (node.kind === 'witness') return cosigned.has(node.keyHashHex);
  let count = 0;
  for (const m of node.members) if (satisfied(m, cosigned)) count++;
  return count >= node.threshold;
}

/**
 * True if witnesses whose (lowercase hex) key hashes are in `cosignedWitnessKeyHashes`
 * satisfy the policy's quorum. The caller passes only witnesses whose
 * cosignatures it has verified.
 */
export function quorumSatisfied(policy: Policy, cosignedWitnessKeyHashes: ReadonlySet<string>): boolean {
  return satisfied(policy.quorum, cosignedWitnessKeyHashes);
}

export function findLog(policy: Policy, logKeyHash: Hash): PolicyLog | undefined {
  const hex = toHex(logKeyHash);
  return policy.logs.find((l) => toHex(l.keyHash) === hex);
}

export function findWitness(policy: Policy, witnessKeyHash: Hash): PolicyWitness | undefined {
  const hex = toHex(witnessKeyHash);
  return policy.witnesses.find((w) => toHex(w.keyHash) === hex);
}

// SSH wire-format values (RFC 4251 section 5): uint32 and length-prefixed
// strings, and the Ed25519 public key blob (RFC 8709). Shared by the key-file
// formats (openssh-key-v1, .pub lines) and the ssh-agent protocol, which
// differ only in the error a truncated value is reported as.
import type { PublicKey } from '../types.js';

export const ED25519_KEY_TYPE = 'ssh-ed25519';

export function sshUint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** A length-prefixed string; text is written as UTF-8. */
export function sshString(data: Uint8Array | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  return Buffer.concat([sshUint32(bytes.length), bytes]);
}

/** The SSH public key blob: string "ssh-ed25519", string key. */
export function ed25519PublicKeyBlob(publicKey: PublicKey): Buffer {
  return Buffer.concat([sshString(ED25519_KEY_TYPE), sshString(publicKey)]);
}

/** Reads wire values in order; a value running past the end throws `truncated(what)`. */
export class SshWireReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly truncated: (what: string) => Error,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }
  get done(): boolean {
    return this.remaining === 0;
  }
  bytes(n: number, what: string): Buffer {
    if (n > this.remaining) throw this.truncated(what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  uint32(what: string): number {
    return this.bytes(4, what).readUInt32BE(0);
  }
  string(what: string): Buffer {
    return this.bytes(this.uint32(what), what);
  }
  /** A string read as Latin-1 (key types, cipher and kdf names are ASCII). */
  text(what: string): string {
    return this.string(what).toString('latin1');
  }
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }
}

// Key commands: keygen and key-hash.
import type { Command } from 'commander';
import { generateSeed, keyHash } from '../crypto/index.js';
import { readPublicKeyFile, writeKeyPair } from '../crypto/keyfile.js';
import { toHex } from '../hex.js';

export function registerKeyCommands(program: Command): void {
  program
    .command('keygen')
    .description('write a new Ed25519 key pair: KEY (OpenSSH private key, mode 0600) and KEY.pub')
    .requiredOption('-o, --output <file>', 'private key file to write (KEY.pub is written beside it)')
    .action((opts: { output: string }) => {
      writeKeyPair(opts.output, generateSeed());
      process.stdout.write(`${opts.output}\n${opts.output}.pub\n`);
    });
  program
    .command('key-hash')
    .description('print the hex key hash (SHA-256 of the raw public key) of a public key file (ssh-ed25519 line or hex)')
    .argument('<pubkey-file>')
    .action((file: string) => {
      process.stdout.write(`${toHex(keyHash(readPublicKeyFile(file)))}\n`);
    });
}

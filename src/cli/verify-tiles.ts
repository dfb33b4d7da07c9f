// `sigsum-log verify-tiles --url URL --log-pubkey-file F [--since FILE]`:
// checks a log served as tlog-tiles (by a node, or a static server over a
// tiles-dir) against its signed checkpoint (src/tiles/verify.ts).
// Exit status: 0 everything matches; 1 a check failed (or the URL could not
// be read); 2 usage error.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { ConfigError } from '../errors.js';
import { checkTiles, httpTileSource, TileCheckError } from '../tiles/verify.js';
import { createProgress } from './progress.js';
import { exitOnUsageError } from './usage.js';

interface VerifyTilesFlags {
  url?: string;
  logPubkeyFile?: string;
  since?: string;
  timeout?: string;
}

export function registerVerifyTilesCommand(program: Command): void {
  exitOnUsageError(
    program
      .command('verify-tiles')
      .description("check a log's tlog-tiles (checkpoint, tiles, entry bundles) against its log signature; exit 0 only when everything matches")
      .option('--url <url>', 'base URL of the tiles, including any prefix (the directory holding `checkpoint`)')
      .option('--log-pubkey-file <file>', "the log's public key (OpenSSH)")
      .option('--since <file>', 'an earlier checkpoint of the log: the current one must extend it'),
  ).action(async (flags: VerifyTilesFlags) => {
    if (flags.url === undefined) throw new ConfigError('verify-tiles: --url is required');
    if (flags.logPubkeyFile === undefined) throw new ConfigError('verify-tiles: --log-pubkey-file is required');
    let url: URL;
    try {
      url = new URL(flags.url);
    } catch {
      throw new ConfigError(`verify-tiles: --url "${flags.url}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`verify-tiles: --url must be http or https, got ${url.protocol}`);
    let key;
    try {
      key = readPublicKeyFile(flags.logPubkeyFile);
    } catch (err) {
      throw new ConfigError(`verify-tiles: --log-pubkey-file ${flags.logPubkeyFile}: ${(err as Error).message}`);
    }
    let since: Buffer | undefined;
    if (flags.since !== undefined) {
      try {
        since = readFileSync(flags.since);
      } catch (err) {
        throw new ConfigError(`verify-tiles: --since ${flags.since}: ${(err as Error).message}`);
      }
    }
    const progress = createProgress({ label: 'verify-tiles', unit: 'resources' });
    let shown = false;
    try {
      const result = await checkTiles({
        source: httpTileSource(url.href),
        logPublicKey: key,
        since,
        onProgress: (done, total) => {
          shown = true;
          progress.update(done, total);
        },
      });
      if (shown) progress.finish();
      process.stdout.write(
        `verify-tiles: OK: size ${result.checkpoint.size}, ${result.fetched} resources, every entry, hash and the root match the checkpoint` +
          (since === undefined ? '' : ', and it extends the --since checkpoint') +
          '\n',
      );
    } catch (err) {
      if (shown) progress.finish();
      if (!(err instanceof TileCheckError)) throw err;
      process.stderr.write(`verify-tiles: FAILED: ${err.message}\n`);
      process.exitCode = 1;
    }
  });
}

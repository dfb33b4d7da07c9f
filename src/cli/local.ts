// `sigsum-log local` (what `npm start` runs): a working log on this machine.
// On first start it writes keys, configs and a policy under --dir, then runs
// every node of the local setup in this process.
import type { Command } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/config.js';
import { generateSeed, keyHash } from '../crypto/index.js';
import { readPublicKeyFile, writeKeyPair } from '../crypto/keyfile.js';
import { toHex } from '../hex.js';
import { createLogger } from '../log.js';
import { SthFile } from '../storage/sth-file.js';
import { startNode, type RunningNode } from './run-node.js';
import { startWitness } from '../witness/run.js';

interface LocalOptions {
  dir: string;
  host: string;
  port: string;
}

function ensureKey(file: string): void {
  if (!existsSync(file)) writeKeyPair(file, generateSeed());
}

function writeOnce(file: string, text: string): void {
  if (!existsSync(file)) writeFileSync(file, text);
}

export function registerLocalCommand(program: Command): void {
  program
    .command('local')
    .description('run a working local log (primary + secondary + witness); creates keys and configs under --dir on first start')
    .option('--dir <dir>', 'directory for keys, configs and databases', './data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'public port of the primary; the other nodes use the next ports', '6965')
    .action(async (opts: LocalOptions) => {
      const dir = resolve(opts.dir);
      mkdirSync(dir, { recursive: true });
      const base = Number(opts.port);
      const ep = (offset: number): string => `${opts.host}:${base + offset}`;
      ensureKey(join(dir, 'log.key'));
      ensureKey(join(dir, 'secondary.key'));
      ensureKey(join(dir, 'submitter.key'));
      ensureKey(join(dir, 'witness.key'));
      writeOnce(
        join(dir, 'primary.toml'),
        [
          `external-endpoint = "${ep(0)}"`,
          `internal-endpoint = "${ep(2)}"`,
          `key-file = "log.key"`,
          `db-file = "primary.db"`,
          `interval = "2s"`,
          '',
          '[primary]',
          `sth-file = "sth"`,
          `policy-file = "policy"`,
          `secondary-url = "http://${ep(12)}"`,
          `secondary-pubkey-file = "secondary.key.pub"`,
          '',
        ].join('\n'),
      );
      writeOnce(
        join(dir, 'secondary.toml'),
        [
          `external-endpoint = "${ep(10)}"`,
          `internal-endpoint = "${ep(12)}"`,
          `key-file = "secondary.key"`,
          `db-file = "secondary.db"`,
          `interval = "500ms"`,
          '',
          '[secondary]',
          `primary-url = "http://${ep(2)}"`,
          `log-pubkey-file = "log.key.pub"`,
          '',
        ].join('\n'),
      );
      const logKey = readPublicKeyFile(join(dir, 'log.key.pub'));
      const witnessKey = readPublicKeyFile(join(dir, 'witness.key.pub'));
      // One policy for the log (which witnesses to ask, what quorum to reach)
      // and for clients (sigsum-submit / sigsum-verify).
      writeOnce(
        join(dir, 'policy'),
        [`log ${toHex(logKey)} http://${ep(0)}`, `witness w1 ${toHex(witnessKey)} http://${ep(20)}`, 'quorum w1', ''].join('\n'),
      );

      const primaryConfig = loadConfig({ role: 'primary', configFile: join(dir, 'primary.toml'), flags: {} });
      const secondaryConfig = loadConfig({ role: 'secondary', configFile: join(dir, 'secondary.toml'), flags: {} });
      const sth = new SthFile(primaryConfig.primary.sthFile);
      if (!sth.exists() && sth.readStartup() === undefined) sth.writeStartup('empty');

      const nodes: RunningNode[] = [];
      nodes.push(
        await startWitness(
          { keyFile: join(dir, 'witness.key'), logPubkeyFiles: [join(dir, 'log.key.pub')], stateFile: join(dir, 'witness.state'), listen: ep(20) },
          createLogger('info', '', 'witness'),
        ),
      );
      nodes.push(await startNode(secondaryConfig, createLogger('info', '', 'secondary')));
      nodes.push(await startNode(primaryConfig, createLogger('info', '', 'primary')));
      const url = `http://${ep(0)}`;
      process.stdout.write(
        [
          '',
          `Sigsum log running at ${url}  (log key hash ${toHex(keyHash(logKey))})`,
          `Files in ${dir}: keys, configs, policy (log + witness w1, quorum w1), databases.`,
          `Nodes: primary ${url} (internal ${ep(2)}), secondary (internal ${ep(12)}), witness http://${ep(20)}.`,
          '',
          'Try:',
          `  curl ${url}/get-tree-head`,
          `  echo hello > /tmp/msg && sigsum-submit -k ${join(dir, 'submitter.key')} -p ${join(dir, 'policy')} /tmp/msg`,
          `  sigsum-verify -k ${join(dir, 'submitter.key.pub')} -p ${join(dir, 'policy')} /tmp/msg.proof < /tmp/msg`,
          '(sigsum-submit and sigsum-verify come with Debian\'s sigsum-go package; scripts/get-sigsum-go unpacks them.)',
          '',
        ].join('\n'),
      );
      const stop = (): void => {
        Promise.all(nodes.map((n) => n.stop())).finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

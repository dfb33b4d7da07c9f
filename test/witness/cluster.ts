// A primary with witnesses, as real processes on 127.0.0.1: our witnesses
// (`sigsum-log witness`), a policy file naming them, and checks of what
// get-tree-head serves against that policy.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { verifyCosignature, verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { parseCosignedTreeHead, parseInclusionProof, type InclusionProof } from '../../src/formats/messages.js';
import { parsePolicy, quorumSatisfied, type Policy } from '../../src/formats/policy.js';
import { formatSigsumProof, parseSigsumProof } from '../../src/formats/proof.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { verifySigsumProof } from '../../src/formats/verify-proof.js';
import { toHex } from '../../src/hex.js';
import type { PublicKey, Signer } from '../../src/types.js';
import { freePort, http, spawnCli, type NodeProcess } from '../helpers/node-process.js';
import { makeKey, preparePrimary, prepareSecondary, startNodeProcess, writePrimaryConfig, type NodeSetup, type PrimarySetup } from '../helpers/log-fixture.js';
import type { TestLeaf } from '../helpers/submitter.js';

export interface WitnessSpec {
  name: string;
  key: Signer;
  keyFile: string;
  port: number;
  url: string;
  stateFile: string;
}

/** Keys, ports and state file paths for witnesses w1..wN (nothing started). */
export async function witnessSpecs(dir: string, count: number, prefix = 'w'): Promise<WitnessSpec[]> {
  const specs: WitnessSpec[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `${prefix}${i}`;
    const keyFile = join(dir, `${name}.key`);
    const port = await freePort();
    specs.push({ name, key: makeKey(keyFile), keyFile, port, url: `http://127.0.0.1:${port}`, stateFile: join(dir, `${name}.state`) });
  }
  return specs;
}

/** Starts our witness on the spec's fixed port (so the policy URL stays right across restarts). */
export async function startOurWitness(t: TestContext, spec: WitnessSpec, logPubFile: string): Promise<NodeProcess> {
  const p = spawnCli(
    ['witness', '--key-file', spec.keyFile, '--log-pubkey-file', logPubFile, '--state', spec.stateFile, '--listen', `127.0.0.1:${spec.port}`],
    { name: spec.name },
  );
  t.after(() => p.kill9());
  await p.waitForOutput(/witness listening on http:\/\/\S+/);
  return p;
}

export interface PolicyWitnessLine {
  name: string;
  key: Signer;
  url?: string;
}

export function policyText(log: Signer, logUrl: string, witnesses: readonly PolicyWitnessLine[], rules: string): string {
  const lines = [`log ${toHex(log.publicKey)} ${logUrl}`];
  for (const w of witnesses) lines.push(`witness ${w.name} ${toHex(w.key.publicKey)}${w.url ? ` ${w.url}` : ''}`);
  return `${lines.join('\n')}\n${rules.trim()}\n`;
}

export interface Cluster {
  setup: PrimarySetup;
  primary: NodeProcess;
  /** Present when started with `secondary: true`. */
  secondary?: { setup: NodeSetup; process: NodeProcess };
  policy: Policy;
  policyFile: string;
  /** The log's public key file (KEY.pub beside its key). */
  logPubFile: string;
}

export interface ClusterOptions {
  interval?: string;
  timeout?: string;
  logLevel?: string;
  /** Also run one secondary, which the primary's replication gate waits for. */
  secondary?: boolean;
  /** [primary] idle-interval. */
  idleInterval?: string;
}

/**
 * A primary whose policy names the given witnesses. `beforeStart` is called
 * once the log key exists, so witnesses can be started with it first; it
 * returns the policy text.
 */
export async function startPrimaryWithPolicy(
  t: TestContext,
  dir: string,
  opts: ClusterOptions,
  beforeStart: (setup: PrimarySetup, logPubFile: string) => Promise<string>,
): Promise<Cluster> {
  const policyFile = join(dir, 'policy');
  const top = { timeout: opts.timeout ?? '1s', ...(opts.logLevel ? { 'log-level': opts.logLevel } : {}) };
  const idle: Record<string, string> = opts.idleInterval === undefined ? {} : { 'idle-interval': opts.idleInterval };
  const setup = await preparePrimary(dir, { interval: opts.interval ?? '300ms', top, primary: { 'policy-file': policyFile, ...idle } });
  const logPubFile = `${setup.keyFile}.pub`;
  let secondary: Cluster['secondary'];
  if (opts.secondary === true) {
    const secSetup = await prepareSecondary(dir, { primaryUrl: setup.internalUrl, interval: '100ms', logPubkeyFile: logPubFile });
    // The primary's config can name the secondary only now that its address and key exist.
    writePrimaryConfig(setup, {
      interval: opts.interval ?? '300ms',
      top,
      primary: { 'policy-file': policyFile, ...idle },
      secondaries: [{ url: secSetup.internalUrl, pubkeyFile: `${secSetup.keyFile}.pub` }],
    });
    const process = await startNodeProcess('secondary', secSetup);
    t.after(() => process.kill9());
    secondary = { setup: secSetup, process };
  }
  const text = await beforeStart(setup, logPubFile);
  writeFileSync(policyFile, text);
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  return { setup, primary, secondary, policy: parsePolicy(text), policyFile, logPubFile };
}

export async function treeHead(c: Cluster): Promise<CosignedTreeHead> {
  const res = await http(`${c.setup.publicUrl}/get-tree-head`);
  assert.equal(res.status, 200, res.body);
  return parseCosignedTreeHead(res.body);
}

/** Names of the policy witnesses whose cosignatures on the head verify; asserts nothing else is served. */
export function cosignedBy(c: Cluster, head: CosignedTreeHead): string[] {
  assert.ok(verifyTreeHeadSignature(c.setup.signer.publicKey, head), 'log signature');
  const logKeyHash = keyHash(c.setup.signer.publicKey);
  return head.cosignatures.map((cs) => {
    const w = c.policy.witnesses.find((x) => toHex(x.keyHash) === toHex(cs.keyHash));
    assert.ok(w !== undefined, `cosignature by ${toHex(cs.keyHash)}, not a policy witness`);
    assert.ok(verifyCosignature(w.publicKey, logKeyHash, head, cs), `cosignature by ${w.name} verifies`);
    return w.name;
  }).sort();
}

export function assertQuorum(c: Cluster, head: CosignedTreeHead): string[] {
  const names = cosignedBy(c, head);
  const hashes = new Set(head.cosignatures.map((cs) => toHex(cs.keyHash)));
  assert.ok(quorumSatisfied(c.policy, hashes), `quorum met by ${names.join(', ')}`);
  return names;
}

/**
 * For every leaf: inclusion proof + cosigned tree head + leaf, assembled
 * into a Sigsum proof v2 (formatted and parsed again), verified under the
 * policy with our own verifier.
 */
export async function verifyAllProofs(c: Cluster, submitterKey: PublicKey, leaves: readonly TestLeaf[], head: CosignedTreeHead): Promise<void> {
  for (const l of leaves) {
    let inclusion: InclusionProof = { leafIndex: 0, path: [] };
    if (head.size > 1) {
      const res = await http(`${c.setup.publicUrl}/get-inclusion-proof/${head.size}/${toHex(l.leafHash)}`);
      assert.equal(res.status, 200, res.body);
      inclusion = parseInclusionProof(res.body);
    }
    const text = formatSigsumProof({
      logKeyHash: keyHash(c.setup.signer.publicKey),
      leaf: { keyHash: keyHash(submitterKey), signature: l.leaf.signature },
      treeHead: head,
      inclusion,
    });
    const verified = verifySigsumProof(parseSigsumProof(text), l.message, [submitterKey], c.policy);
    assert.ok(quorumSatisfied(c.policy, verified.witnesses));
  }
}

/** How many times `pattern` occurs in the process output from `from` on. */
export function countOutput(p: NodeProcess, pattern: RegExp, from = 0): number {
  return [...p.output.slice(from).matchAll(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'))].length;
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519Verify } from '../../src/crypto/index.js';
import { signTreeHead, verifyCosignature, verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { parseSigsumProof } from '../../src/formats/proof.js';
import {
  formatCosignatureLine,
  formatNoteSignature,
  formatSignedNote,
  logNoteKeyName,
  NoteError,
  noteKeyId,
  NOTE_SIG_TYPE_COSIGNATURE,
  NOTE_SIG_TYPE_ED25519,
  parseNoteSignature,
  parseSignedNote,
  parseSigsumCheckpointNote,
  parseWitnessCosignatures,
  signedCheckpointNote,
  witnessKeyName,
} from '../../src/formats/signed-note.js';
import { fromBase64, toHex } from '../../src/hex.js';
import { asPublicKey, asSignature } from '../../src/types.js';
import {
  hash,
  LOG_KEY_HASH_HEX,
  logSigner,
  PROOF_SIZE_3,
  WITNESS_KEY_HASH_HEX,
  WITNESS_RESPONSE,
  WITNESS_RESPONSE_TIMESTAMP,
  witnessSigner,
} from './fixtures.js';

const utf8 = new TextEncoder();
const logKH = hash(LOG_KEY_HASH_HEX);

// signed-note.md "Verifier keys" example.
const SPEC_VKEY_KEY = 'AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n' +
  '\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

// sigsum-go pkg/checkpoint test vector: seed 0x11‖0…, size 10, root 1c0e47 0….
const SIGSUM_GO_CHECKPOINT =
  'sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69\n' +
  '10\n' +
  'HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' +
  '\n' +
  '\u2014 sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69 gJ2ho0n8F8olcerUF1FFdv235A/5as/coWrpLrtE7ovMeP5whgwouYExowG/lTznxu6OUGjjt5yJQ6bXtTcf718MqAQ=\n';

// tlog-witness.md example response: well-formed Ed25519 cosignatures by unknown keys.
const FOREIGN_RESPONSE =
  '\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n' +
  '\u2014 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n';

describe('note key IDs', () => {
  it('matches the signed-note.md example vkey and verifies its note', () => {
    const keyData = fromBase64(SPEC_VKEY_KEY);
    assert.equal(keyData[0], NOTE_SIG_TYPE_ED25519);
    const pub = asPublicKey(keyData.slice(1));
    assert.equal(toHex(noteKeyId('example.com/foo', NOTE_SIG_TYPE_ED25519, pub)), '530d903a');
    const note = parseSignedNote(SPEC_NOTE);
    assert.equal(note.text, 'This is an example message.\n');
    assert.equal(note.signatures.length, 1);
    const [sig] = note.signatures;
    assert.equal(sig!.keyName, 'example.com/foo');
    assert.equal(toHex(sig!.keyId), '530d903a');
    assert.ok(ed25519Verify(pub, utf8.encode(note.text), asSignature(sig!.signature)));
    assert.equal(formatSignedNote(note), SPEC_NOTE);
  });

  it('matches the key IDs in vkeys printed by sigsum-key to-vkey', () => {
    // sigsum-key to-vkey -k log.pub
    assert.equal(toHex(noteKeyId(logNoteKeyName(logKH), NOTE_SIG_TYPE_ED25519, logSigner.publicKey)), '809da1a3');
    // sigsum-key to-vkey -k wit.pub -n sigsum.org/v1/witness/x -t cosignature/v1
    assert.equal(toHex(noteKeyId('sigsum.org/v1/witness/x', NOTE_SIG_TYPE_COSIGNATURE, witnessSigner.publicKey)), '585ebd2a');
  });

  it('names the witness key as sigsum-witness does', () => {
    assert.equal(witnessKeyName(witnessSigner.publicKey), `sigsum.org/v1/witness/${WITNESS_KEY_HASH_HEX}`);
  });
});

describe('signed checkpoint for witnesses', () => {
  it('reproduces the sigsum-go checkpoint test vector byte for byte', () => {
    const root = new Uint8Array(32);
    root.set([28, 14, 71]);
    const sth = signTreeHead(logSigner, { size: 10, rootHash: hash(toHex(root)) });
    assert.equal(signedCheckpointNote(logSigner.publicKey, sth), SIGSUM_GO_CHECKPOINT);
  });

  it('parses a checkpoint note back to the signed tree head', () => {
    const sth = parseSigsumCheckpointNote(SIGSUM_GO_CHECKPOINT, logSigner.publicKey);
    assert.equal(sth.size, 10);
    assert.equal(toHex(sth.rootHash), '1c0e47' + '00'.repeat(29));
    assert.ok(verifyTreeHeadSignature(logSigner.publicKey, sth));
  });

  it('ignores other signers but requires exactly one log signature', () => {
    const extra = SIGSUM_GO_CHECKPOINT + WITNESS_RESPONSE + FOREIGN_RESPONSE;
    assert.equal(parseSigsumCheckpointNote(extra, logSigner.publicKey).size, 10);
    const sigLine = SIGSUM_GO_CHECKPOINT.split('\n\n')[1]!;
    assert.throws(() => parseSigsumCheckpointNote(SIGSUM_GO_CHECKPOINT + sigLine, logSigner.publicKey), /found 2/);
    const body = SIGSUM_GO_CHECKPOINT.split('\n\n')[0]!;
    assert.throws(() => parseSigsumCheckpointNote(`${body}\n\n${FOREIGN_RESPONSE}`, logSigner.publicKey), /found 0/);
    assert.throws(() => parseSigsumCheckpointNote(SIGSUM_GO_CHECKPOINT, witnessSigner.publicKey), /origin/);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an extension line', SIGSUM_GO_CHECKPOINT.replace('=\n\n', '=\nextension\n\n'), /3 body lines/],
    ['a size with a leading zero', SIGSUM_GO_CHECKPOINT.replace('\n10\n', '\n010\n'), /tree size/],
    ['a short root hash', SIGSUM_GO_CHECKPOINT.replace('HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'HA5H'), /root hash/],
  ];
  for (const [what, note, want] of bad) {
    it(`rejects a checkpoint with ${what}`, () => {
      assert.throws(() => parseSigsumCheckpointNote(note, logSigner.publicKey), (e: unknown) => e instanceof NoteError && want.test(e.message));
    });
  }
});

describe('witness cosignatures', () => {
  const { treeHead } = parseSigsumProof(PROOF_SIZE_3);

  it('parses and verifies the response of a real sigsum-witness', () => {
    const cosigs = parseWitnessCosignatures(WITNESS_RESPONSE, witnessSigner.publicKey);
    assert.equal(cosigs.length, 1);
    const [c] = cosigs;
    assert.equal(c!.timestamp, WITNESS_RESPONSE_TIMESTAMP);
    assert.equal(toHex(c!.keyHash), WITNESS_KEY_HASH_HEX);
    assert.ok(verifyCosignature(witnessSigner.publicKey, logKH, treeHead, c!));
    assert.equal(formatCosignatureLine(witnessSigner.publicKey, c!), WITNESS_RESPONSE);
  });

  it('accepts bytes and requires the given key name when one is passed', () => {
    assert.equal(parseWitnessCosignatures(utf8.encode(WITNESS_RESPONSE), witnessSigner.publicKey).length, 1);
    assert.equal(parseWitnessCosignatures(WITNESS_RESPONSE, witnessSigner.publicKey, witnessKeyName(witnessSigner.publicKey)).length, 1);
    assert.equal(parseWitnessCosignatures(WITNESS_RESPONSE, witnessSigner.publicKey, 'other.example/w').length, 0);
  });

  it('rejects a byte-order mark instead of dropping it', () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8.encode(WITNESS_RESPONSE)]);
    assert.throws(() => parseWitnessCosignatures(withBom, witnessSigner.publicKey), /malformed/);
  });

  it('ignores lines from other keys', () => {
    assert.deepEqual(parseWitnessCosignatures(FOREIGN_RESPONSE, witnessSigner.publicKey), []);
    const mixed = FOREIGN_RESPONSE + WITNESS_RESPONSE;
    assert.equal(parseWitnessCosignatures(mixed, witnessSigner.publicKey).length, 1);
    // The witness's own line does not match the log key.
    assert.deepEqual(parseWitnessCosignatures(WITNESS_RESPONSE, logSigner.publicKey), []);
  });

  it('matches the key ID under whatever key name the witness uses', () => {
    const c = parseWitnessCosignatures(WITNESS_RESPONSE, witnessSigner.publicKey)[0]!;
    const renamed = formatCosignatureLine(witnessSigner.publicKey, c, 'witness.example.org/w7');
    assert.ok(renamed.startsWith('\u2014 witness.example.org/w7 '));
    assert.deepEqual(parseWitnessCosignatures(renamed, witnessSigner.publicKey), [c]);
  });

  it('writes the 8-byte big-endian timestamp before the signature', () => {
    const c = { keyHash: hash(WITNESS_KEY_HASH_HEX), timestamp: 0x0102030405, signature: asSignature(new Uint8Array(64).fill(9)) };
    const line = formatCosignatureLine(witnessSigner.publicKey, c, 'w.example');
    const blob = fromBase64(line.slice('\u2014 w.example '.length, -1));
    assert.equal(toHex(blob.subarray(4, 12)), '0000000102030405');
    assert.equal(blob.length, 4 + 8 + 64);
  });

  const keyId = toHex(noteKeyId('w.example', NOTE_SIG_TYPE_COSIGNATURE, witnessSigner.publicKey));
  const line = (blobHex: string) => `\u2014 w.example ${Buffer.from(keyId + blobHex, 'hex').toString('base64')}\n`;
  const bad: Array<[string, string, RegExp]> = [
    ['an empty response', '', /no signature lines/],
    ['no final newline', WITNESS_RESPONSE.slice(0, -1), /final newline/],
    ['a blank line', WITNESS_RESPONSE + '\n', /malformed/],
    ['a hyphen instead of an em dash', WITNESS_RESPONSE.replace('\u2014', '-'), /malformed/],
    ['CRLF', WITNESS_RESPONSE.replace('\n', '\r\n'), /control/],
    ['invalid base64', '\u2014 w.example !!!!\n', /base64/],
    ['a matching key with a short signature', line('00'.repeat(8 + 63)), /wrong size/],
    ['a timestamp above 2^63-1', line('80' + '00'.repeat(7 + 64)), /2\^63-1/],
    ['invalid UTF-8', '\u2014 w.example AAAA\n', /UTF-8/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => {
      const input = what === 'invalid UTF-8' ? new Uint8Array([0xe2, 0x80, 0x20, 0x77, 0x0a]) : text;
      assert.throws(() => parseWitnessCosignatures(input, witnessSigner.publicKey), (e: unknown) => e instanceof NoteError && want.test(e.message));
    });
  }
});

describe('parseSignedNote', () => {
  const sigLine = '\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=';

  it('splits at the last blank line, so the text may contain blank lines', () => {
    const note = parseSignedNote(`a\n\nb\n\n${sigLine}\n`);
    assert.equal(note.text, 'a\n\nb\n');
    assert.equal(note.signatures.length, 1);
  });

  it('accepts many signatures up to the limit', () => {
    assert.equal(parseSignedNote(`a\n\n${`${sigLine}\n`.repeat(16)}`).signatures.length, 16);
    assert.throws(() => parseSignedNote(`a\n\n${`${sigLine}\n`.repeat(17)}`, 16), /more than 16/);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['no blank line', `a\n${sigLine}\n`, /no blank line/],
    ['no signatures', 'a\n\n', /no signature lines/],
    ['no final newline', `a\n\n${sigLine}`, /final newline/],
    ['a tab', `a\tb\n\n${sigLine}\n`, /control/],
    ['a CR', `a\r\n\n${sigLine}\n`, /control/],
    ['a key name with a plus', `a\n\n${sigLine.replace('example.com/foo', 'example.com+foo')}\n`, /key name/],
    ['a key name with a no-break space', `a\n\n${sigLine.replace('example.com/foo', 'example.com\u00a0foo')}\n`, /key name/],
    ['an empty key name', `a\n\n${sigLine.replace('example.com/foo', '')}\n`, /malformed|key name/],
    ['a signature of only a key ID', `a\n\n\u2014 example.com/foo AAAAAA==\n`, /too short/],
    ['a line that is not a signature', `a\n\n${sigLine}\nhello\n`, /malformed/],
    ['unpadded base64', `a\n\n${sigLine.slice(0, -1)}\n`, /base64/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => parseSignedNote(text), (e: unknown) => e instanceof NoteError && want.test(e.message)));
  }

  it('round-trips a single signature line', () => {
    const sig = parseNoteSignature(sigLine);
    assert.equal(formatNoteSignature(sig), `${sigLine}\n`);
  });
});

// The add-checkpoint table run against the real sigsum-witness (Debian's
// sigsum-go), so that our reading of C2SP tlog-witness is checked against an
// independent implementation, not only against itself. Where sigsum-witness
// deviates from the spec text, the row says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { verifyCosignature } from '../../src/formats/checkpoint.js';
import { parseWitnessCosignatures, witnessKeyName } from '../../src/formats/signed-note.js';
import { emptyRoot } from '../../src/tree/hash.js';
import { formatAddCheckpointRequest } from '../../src/witness/protocol.js';
import { freePort, http, waitUntil } from '../helpers/node-process.js';
import { tempDir } from '../helpers/log-fixture.js';
import { sigsumTools, startTool } from '../helpers/sigsum-tools.js';
import { cases, world } from './cases.js';
import { addCheckpointBody, checkpoint } from './fixtures.js';

/** Rows where sigsum-witness answers differently from the spec (and from our witness). */
const SIGSUM_WITNESS_DEVIATIONS: Record<string, number> = {
  // tlog-witness: "If the proof is not empty when the old size is zero ... 422".
  // sigsum-go rejects it while parsing the request, with 400.
  '422: non-empty proof with old size 0': 400,
};

test('sigsum-witness agrees with the add-checkpoint table', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  const dir = tempDir('sigsum-witness-diff-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, async (st) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const tool = startTool(
        bin,
        'sigsum-witness',
        ['-k', w.witnessKeyFile, '--log-key', w.logPub, '--state-file', join(dir.path, `state-${i}`), `127.0.0.1:${port}`],
        { env: { GODEBUG: 'httpmuxgo121=0' } },
      );
      st.after(() => tool.stop());
      await waitUntil('sigsum-witness to listen', async () => ((await http(`${url}/add-checkpoint`)).status === 405 ? true : undefined), 10_000);
      const post = async (body: string | Uint8Array) => http(`${url}/add-checkpoint`, { method: 'POST', body });
      let old = 0;
      for (const size of c.prior) {
        const r = await post(addCheckpointBody(w.log, w.tree, old, size));
        assert.equal(r.status, 200, `prior cosigning of ${size}: ${r.body}`);
        old = size;
      }
      const res = await post(c.body(w));
      assert.equal(res.status, SIGSUM_WITNESS_DEVIATIONS[c.name] ?? c.status, res.body);
      if (c.exactBody !== undefined) assert.equal(res.body, c.exactBody);
      if (res.status === 200) {
        // Its cosignature line is what our cosigner will verify: same key name, and it verifies.
        const size = c.after!;
        const cosigs = parseWitnessCosignatures(res.body, w.witnessKey.publicKey, witnessKeyName(w.witnessKey.publicKey));
        assert.equal(cosigs.length, 1, res.body);
        const rootHash = size === 0 ? emptyRoot() : w.tree.root(size);
        assert.ok(verifyCosignature(w.witnessKey.publicKey, keyHash(w.log.publicKey), { size, rootHash }, cosigs[0]!));
      }
      // sigsum-witness has no monitor endpoint; a 409 probe reveals its stored size.
      const probe = await post(formatAddCheckpointRequest({ oldSize: 69, proof: [], checkpoint: checkpoint(w.log, w.tree, 69) }));
      assert.equal(probe.status, 409, probe.body);
      assert.equal(probe.body, `${c.after ?? 0}\n`, 'stored size afterwards');
    });
  }
});

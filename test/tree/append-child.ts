// Child process for crash.test.ts: appends batches of deterministic leaves to
// the store forever, printing each size once its commit has returned, until
// it is killed. Run without arguments (as a test runner might) it does nothing.
import { TreeStore } from '../../src/tree/store.js';
import { leavesOf } from './helpers.js';

const [path, batchText, chunkText] = process.argv.slice(2);
if (path !== undefined) {
  const batch = Number(batchText);
  const store = TreeStore.open(path, { dedupChunk: Number(chunkText) });
  for (let size = store.size(); ; size += batch) {
    store.appendLeaves(leavesOf(size, size + batch, 'crash'));
    // stdout is a pipe: writes are synchronous on Linux, so this line is out
    // before the next batch starts.
    process.stdout.write(`committed ${size + batch}\n`);
  }
}

// The roles never import each other: code both need lives lower
// (src/internal-api, src/public-api, src/tree, ...). Checked on the TypeScript
// sources, so type-only imports count too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

function importsOf(dir: string): Array<{ file: string; spec: string }> {
  const found: Array<{ file: string; spec: string }> = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) found.push({ file: name, spec: m[1] as string });
  }
  return found;
}

for (const [role, other] of [
  ['primary', 'secondary'],
  ['secondary', 'primary'],
] as const) {
  test(`src/${role} imports nothing from src/${other}`, () => {
    const dir = join(repo, 'src', role);
    const imports = importsOf(dir);
    assert.ok(imports.length > 5, `read the imports of ${dir}`);
    const crossing = imports.filter(({ spec }) => spec.includes(`../${other}/`));
    assert.deepEqual(crossing, []);
  });
}

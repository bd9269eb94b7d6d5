// `npm run bench`: runs every packages/*/bench/*.ts in its own process, so that each benchmark's peak
// memory (RSS) is its own and not inflated by the ones before it. `npm run bench -- vae` runs only the
// benchmarks whose path contains "vae".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findRepoRoot } from '../src/fixtures/locate.js';

const root = findRepoRoot() ?? process.cwd();
const filters = process.argv.slice(2);
const files: string[] = [];
for (const pkg of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) {
    const path = join(dir, f);
    if (!f.endsWith('.ts') || path === import.meta.filename) continue;
    if (filters.length && !filters.some((flt) => path.includes(flt))) continue;
    files.push(path);
  }
}
if (files.length === 0) {
  console.error(`no benchmark matched ${filters.join(' ') || '(any)'}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.log(`\n## ${relative(root, f)}`);
  const r = spawnSync(process.execPath, ['--import=tsx', '--conditions=stablesr-source', f], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.log(`(exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);

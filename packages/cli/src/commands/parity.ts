import { type EngineOptions, formatParityLine, initBackend, listFixtures, runFixture, type BackendChoice, type ParityMode } from '@stablesr/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { allParityKinds } from '../kinds.js';
import { describeEngine, startEngine } from '../options/engineOptions.js';
import { UsageError } from '../usageError.js';

export interface ParityOptions {
  dirs: string[];
  backend?: BackendChoice;
  modes?: ParityMode[];
  engine?: EngineOptions;
  out: (line: string) => void;
}

/** Runs fixture folders, prints one line per output and a final `N passed, M failed`; returns the exit code. */
export async function parityCommand(opts: ParityOptions): Promise<number> {
  if (opts.dirs.length === 0) throw new UsageError('parity: give at least one fixture folder');
  for (const d of opts.dirs) if (!existsSync(d)) throw new UsageError(`parity: no such fixture folder: ${d}`);
  const dirs = opts.dirs.flatMap(expandFixtureRoot);
  const backend = await initBackend(opts.backend);
  const engine = await startEngine(opts.engine ?? {});
  opts.out(`engine: ${describeEngine(engine)}`);
  let passed = 0;
  let failed = 0;
  for (const dir of dirs) {
    try {
      const lines = await runFixture(dir, allParityKinds, opts.modes, { engine });
      for (const l of lines) {
        opts.out(formatParityLine(l));
        if (l.comparison.pass) passed++;
        else failed++;
      }
    } catch (e) {
      opts.out(`FAIL ${dir}: ${(e as Error).message}`);
      failed++;
    }
  }
  opts.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** A folder without a manifest that holds fixture folders (e.g. `../shared/fixtures`) stands for all of them. */
function expandFixtureRoot(dir: string): string[] {
  if (existsSync(join(dir, 'manifest.json'))) return [dir];
  const inside = listFixtures(dir);
  return inside.length > 0 ? inside : [dir];
}

// Shared by every package's parity tests: one ava test per golden fixture of the given kinds.
import test from 'ava';
import { type EngineName, formatParityLine, listFixtures, resolveEngine, runFixture, type ParityKinds } from '@stablesr/core';
import { basename } from 'node:path';
import { requireFixtures } from './fixtureGate.js';

/** Engines every fixture runs on: the fixtures are the contract of each. `STABLESR_TEST_ENGINES=tfjs` narrows it. */
export const ENGINES: EngineName[] = (process.env.STABLESR_TEST_ENGINES ?? 'tfjs,onnxruntime').split(',').map((e) => e.trim() as EngineName);

/**
 * Registers one test per fixture folder whose kind is in `kinds` and engine (free-running and step-wise); `serial` for
 * kinds that switch process-global state (the training kinds' tfjs backend).
 * A missing fixture folder is handled by {@link requireFixtures}; no fixture of a kind is a failure.
 */
export function registerFixtureTests(kinds: ParityKinds, opts: { serial?: boolean } = {}): void {
  const register = opts.serial ? test.serial : test;
  const root = requireFixtures(`${Object.keys(kinds).join(', ')} fixture tests`);
  if (!root) return;
  for (const kind of Object.keys(kinds)) {
    const dirs = listFixtures(root, [kind]);
    if (dirs.length === 0) test(`fixture kind ${kind} has fixtures`, (t) => t.fail(`no fixture of kind ${kind} under ${root}`));
    for (const dir of dirs) for (const engine of ENGINES) {
      register(`parity ${basename(dir)} (${kind}) on ${engine}`, async (t) => {
        const lines = await runFixture(dir, kinds, undefined, { engine: await resolveEngine({ engine }) });
        t.true(lines.length > 0, 'no output compared');
        for (const l of lines) t.log(formatParityLine(l));
        const failed = lines.filter((l) => !l.comparison.pass).map(formatParityLine);
        t.deepEqual(failed, []);
      });
    }
  }
}

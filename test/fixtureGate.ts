// How every test file reaches the golden fixtures: one rule for their absence, and their models and configs read
// from the manifests rather than copied into tests.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Manifest, fixturesRoot, listFixtures } from '@stablesr/core';

/** Whether the tests run under CI: CI services set `CI` (to `true` or `1`); `CI=false` / `CI=0` is a local run. */
export function underCI(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/**
 * The golden fixtures' root for the tests of `what`, or undefined when they are absent. Absence is handled one way
 * everywhere: under CI it registers a failing test (the fixtures are part of the contract there); elsewhere a skipped
 * test whose title gives the reason, so the run says what it did not check.
 */
export function requireFixtures(what: string): string | undefined {
  const root = fixturesRoot();
  if (root) return root;
  const reason = `../shared/fixtures not found (set STABLESR_FIXTURES)`;
  if (underCI()) test(`golden fixtures for ${what} are present`, (t) => t.fail(reason));
  else test.skip(`${what}: skipped, ${reason}`, () => {});
  return undefined;
}

/**
 * The folder of the first fixture of `kind` under `root`. A missing kind is a failing test (the fixture set is
 * present but incomplete) and undefined is returned.
 */
export function requireFixtureOfKind(root: string, kind: string): string | undefined {
  const dir = listFixtures(root, [kind])[0];
  if (!dir) test(`a fixture of kind ${kind} is present`, (t) => t.fail(`no fixture of kind ${kind} under ${root}`));
  return dir;
}

/** The manifest of the fixture folder `dir`. */
export function fixtureManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

/** The absolute path of weights entry `index` of the fixture in `dir` (its manifest names the model files). */
export function fixtureWeightFile(dir: string, index = 0): string {
  const ref = fixtureManifest(dir).weights[index];
  if (!ref) throw new Error(`${dir}: manifest has no weights entry ${index}`);
  return resolve(dir, ref.file);
}

/** The absolute path of the text tower file a sampler fixture names (`context_weights`). */
export function fixtureContextWeightFile(dir: string): string {
  const ref = (fixtureManifest(dir) as Manifest & { context_weights?: { file: string } }).context_weights;
  if (!ref) throw new Error(`${dir}: manifest has no context_weights`);
  return resolve(dir, ref.file);
}

/**
 * `test` and `test.serial` for tests that read the fixtures under `root`: themselves when it is there, their `skip`
 * forms when it is not ({@link requireFixtures} has then registered the reason, or the CI failure).
 */
export function fixtureTests(root: string | undefined): { test: typeof test; serial: typeof test.serial } {
  return root ? { test, serial: test.serial } : { test: test.skip as unknown as typeof test, serial: test.serial.skip as unknown as typeof test.serial };
}

/** The constructor params of section `name` of a manifest config (keys `"name (Class)"` or `name`). */
export function manifestSection<T>(config: Record<string, unknown>, name: string): T {
  const e = Object.entries(config).find(([k]) => k === name || k.startsWith(`${name} (`));
  if (!e) throw new Error(`manifest config has no section ${name} (sections: ${Object.keys(config).join(', ')})`);
  return e[1] as T;
}

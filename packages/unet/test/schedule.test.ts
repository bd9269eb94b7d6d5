import test from 'ava';
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { samplerKinds } from '../src/parity/samplerKinds.js';
import { ddimSchedule, makeBetaSchedule, makeDdimTimesteps, registerSchedule, respaceSchedule, roundHalfEven, spaceTimesteps } from '../src/schedule/index.js';

registerFixtureTests({ schedule: samplerKinds.schedule! });

test('roundHalfEven matches Python round()', (t) => {
  // Python: [round(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001)] == [0, 2, 2, 0, -2, 2, 3]
  t.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 0, -2, 2, 3]);
});

test('spaceTimesteps: sections, string forms and errors', (t) => {
  // improved-diffusion docstring example: 300 steps, sections [10, 15, 20] → 100 steps each.
  const s = spaceTimesteps(300, [10, 15, 20]);
  t.is(s.length, 45);
  t.deepEqual(s.slice(0, 3), [0, 11, 22]);
  t.is(s[10], 100);
  t.is(s[s.length - 1], 299);
  t.deepEqual(spaceTimesteps(300, '10,15,20'), s);
  t.deepEqual(spaceTimesteps(1000, 'ddim4'), [0, 250, 500, 750]);
  t.deepEqual(spaceTimesteps(1000, [1]), [0]);
  t.throws(() => spaceTimesteps(10, [11]), { message: /cannot divide section of 10 steps into 11/ });
  t.throws(() => spaceTimesteps(10, 'ddim6'), { message: /integer stride/ });
});

test('DDIM timesteps: StableSR vs upstream +1, and T % S ≠ 0', (t) => {
  t.deepEqual(makeDdimTimesteps(1000, 4, { upstreamPlusOne: false }), [0, 250, 500, 750]);
  t.deepEqual(makeDdimTimesteps(1000, 4, { upstreamPlusOne: true }), [1, 251, 501, 751]);
  t.deepEqual(makeDdimTimesteps(1000, 3, { upstreamPlusOne: false }), [0, 333, 666, 999]);
  // Upstream indexes ᾱ[1000] here and fails; so do we, with a message.
  t.throws(() => makeDdimTimesteps(1000, 3, { upstreamPlusOne: true }), { message: /DDIM steps 3: the schedule range\(0, 1000, 1000 \/\/ 3\) \+ 1 reaches timestep 1000, outside the 1000-step schedule .*; use e\.g\. 2 or 4 steps/ });
  // Every count from 501 to 1000 has T // S = 1 and fails; the nearest that works is 500 (range(0, 1000, 2) + 1).
  t.throws(() => makeDdimTimesteps(1000, 999, { upstreamPlusOne: true }), { message: /DDIM steps 999: .* reaches timestep 1000, .*; use e\.g\. 500 steps$/ });
  t.is(makeDdimTimesteps(1000, 500, { upstreamPlusOne: true }).at(-1), 999);
  const full = registerSchedule();
  const d = ddimSchedule(full, 4, 0, { upstreamPlusOne: true });
  t.deepEqual(Array.from(d.sigmas), [0, 0, 0, 0]);
  t.is(d.alphasPrev[0], Math.fround(full.alphasCumprod[0]!));
  t.is(d.alphas[3], Math.fround(full.alphasCumprod[751]!));
});

test('respacing to every timestep reproduces the full schedule', (t) => {
  const full = registerSchedule();
  const all = respaceSchedule(full, spaceTimesteps(1000, [1000]));
  let worst = 0;
  for (let i = 0; i < 1000; i++) worst = Math.max(worst, Math.abs(all.alphasCumprod[i]! - full.alphasCumprod[i]!) / full.alphasCumprod[i]!);
  t.true(worst < 1e-5, `relative error ${worst}`);
});

test('beta schedules: scaled_linear is LDM linear; cosine is bounded; unknown names are rejected', (t) => {
  t.deepEqual(makeBetaSchedule('scaled_linear', 10, { linearStart: 0.1, linearEnd: 0.4 }), makeBetaSchedule('linear', 10, { linearStart: 0.1, linearEnd: 0.4 }));
  const b = makeBetaSchedule('linear', 3, { linearStart: 0.01, linearEnd: 0.09 });
  t.deepEqual(Array.from(b).map((x) => +x.toFixed(12)), [0.01, 0.04, 0.09]);
  const c = makeBetaSchedule('cosine', 1000);
  t.true(c.every((x) => x >= 0 && x <= 0.999));
  t.is(c[999], 0.999);
  t.throws(() => makeBetaSchedule('nope' as never, 10), { message: /unknown beta schedule "nope"/ });
});

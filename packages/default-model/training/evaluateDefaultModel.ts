// Evaluates IR-SDE models against bicubic and Lanczos on the held-out crops (256² → 64² → 256²; PSNR / SSIM on
// luma, shave 4) and writes the README's table (markdown + JSON) and side-by-side picture.
//   node --import=tsx --conditions=stablesr-source packages/default-model/training/evaluateDefaultModel.ts \
//     [--model NAME=FILE ...] [--work DIR] [--json OUT] [--picture OUT.png] [--steps N] [--temperature X]
//     [--self-ensemble on|off] [--variants]
// Default model list: the shipped model, sampled as its metadata says (--steps / --temperature / --self-ensemble
// override). --variants adds, for the first model, the quality/time table: the posterior sampler at 1, 2, 4, T/2 and T
// steps without noise, each also with the self-ensemble, the reference's noise (temperature 1, and 0.5) at T steps,
// and the reverse SDE at T steps.
import { writeFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '@stablesr/core';
import { IRSDEUpscaler } from '@stablesr/irsde';
import { verifiedDefaultModelPath } from '../src/index.js';
import { nearestUpscale, writeComparisonPicture } from './comparisonPicture.js';
import { evaluationCrops } from './evaluationCrops.js';
import { type EvaluatedMethod, type MethodScore, bicubic, irsdeMethod, lanczos, lowResolution, scoreMethod } from './evaluateUpscalers.js';
import { prepareDefaultModelData } from './prepareData.js';

const { values } = parseArgs({ options: { model: { type: 'string', multiple: true }, work: { type: 'string' }, json: { type: 'string' }, picture: { type: 'string' }, variants: { type: 'boolean' }, temperature: { type: 'string' }, steps: { type: 'string' }, 'self-ensemble': { type: 'string' } } });
await initBackend();
const scale = 4;
const work = resolve(join(import.meta.dirname, '..', '..', '..'), values.work ?? '.cache/default-model');
const data = await prepareDefaultModelData(join(work, 'data'));
const crops = await evaluationCrops(data.holdout, 256);
const models = (values.model ?? [`default=${verifiedDefaultModelPath().path}`]).map((m) => {
  const i = m.indexOf('=');
  return { name: m.slice(0, i), path: m.slice(i + 1) };
});

const loaded: { name: string; model: IRSDEUpscaler }[] = [];
for (const m of models) loaded.push({ name: m.name, model: await IRSDEUpscaler.load({ checkpoint: m.path }) });
const methods: EvaluatedMethod[] = [bicubic(scale), lanczos(scale)];
const temperatureOf = (model: IRSDEUpscaler): number => (values.temperature !== undefined ? Number(values.temperature) : (model.defaults.temperature ?? 1));
const stepsOf = (model: IRSDEUpscaler): number => (values.steps !== undefined ? Number(values.steps) : (model.defaults.steps ?? model.sde.T ?? 100));
const ensembleOf = (model: IRSDEUpscaler): boolean => (values['self-ensemble'] !== undefined ? values['self-ensemble'] === 'on' : (model.defaults.selfEnsemble ?? false));
const label = (name: string, sampler: string, steps: number, temperature: number, ensemble: boolean): string => `${name}: ${sampler}, ${steps} step${steps === 1 ? '' : 's'}, temperature ${temperature}${ensemble ? ', self-ensemble' : ''}`;
for (const { name, model } of loaded) methods.push(irsdeMethod(label(name, 'posterior', stepsOf(model), temperatureOf(model), ensembleOf(model)), model, 'posterior', stepsOf(model), temperatureOf(model), ensembleOf(model)));
if (values.variants && loaded[0]) {
  const { name, model } = loaded[0];
  const T = model.sde.T ?? 100;
  const primary = { steps: stepsOf(model), temperature: temperatureOf(model), ensemble: ensembleOf(model) };
  const grid = [
    ...[1, 2, 4, Math.round(T / 2), T].flatMap((steps) => [false, true].map((ensemble) => ({ sampler: 'posterior' as const, steps, temperature: 0, ensemble }))),
    { sampler: 'posterior' as const, steps: T, temperature: 0.5, ensemble: false },
    { sampler: 'posterior' as const, steps: T, temperature: 1, ensemble: false },
    { sampler: 'sde' as const, steps: T, temperature: 0, ensemble: false },
  ];
  const seen = new Set([`posterior/${primary.steps}/${primary.temperature}/${primary.ensemble}`]);
  for (const v of grid) {
    const key = `${v.sampler}/${v.steps}/${v.temperature}/${v.ensemble}`;
    if (seen.has(key)) continue;
    seen.add(key);
    methods.push(irsdeMethod(label(name, v.sampler, v.steps, v.temperature, v.ensemble), model, v.sampler, v.steps, v.temperature, v.ensemble));
  }
}
const scores: MethodScore[] = [];
for (const m of methods) {
  const s = await scoreMethod(m, crops, scale, (i) => process.stderr.write(`\r${m.name}: ${i + 1}/${crops.length}`));
  process.stderr.write('\n');
  scores.push(s);
}
const base = scores[0]!;
console.log(`${crops.length} crops (256² from ${new Set(crops.map((c) => c.id.split('@')[0])).size} held-out images), ×${scale}, Y channel, shave ${scale}\n`);
console.log('| method | PSNR-Y (dB) | vs bicubic | SSIM-Y | s / crop |');
console.log('|---|---|---|---|---|');
for (const s of scores) console.log(`| ${s.name} | ${s.psnr.toFixed(2)} | ${s === base ? '—' : `${s.psnr - base.psnr >= 0 ? '+' : ''}${(s.psnr - base.psnr).toFixed(2)}`} | ${s.ssim.toFixed(4)} | ${s.secondsPerCrop.toFixed(2)} |`);
if (values.json) {
  const tmp = `${values.json}.partial`;
  writeFileSync(tmp, JSON.stringify({ crops: crops.map((c) => c.id), scale, scores }, null, 2) + '\n');
  renameSync(tmp, values.json);
}
if (values.picture && loaded[0]) {
  // One crop from each of three different images: the centre crops of chelsea, coffee and LadyBird.
  const chosen = ['chelsea.png', 'coffee.png', 'LadyBird.png'].map((n) => crops.filter((c) => c.id.startsWith(`${n}@`))[1]!).filter(Boolean);
  const rows = [];
  for (const c of chosen) {
    const lr = lowResolution(c, scale);
    rows.push({
      label: c.id.split('@')[0]!,
      panels: [nearestUpscale(lr.data as Uint8Array, lr.width, lr.height, scale), await methods[0]!.run(lr), await methods[2]!.run(lr), c.hr],
    });
  }
  await writeComparisonPicture(values.picture, 256, ['LR input (64², nearest ×4)', 'bicubic', `${loaded[0].name} (IR-SDE)`, 'original'], rows);
}
for (const { model } of loaded) model.dispose();

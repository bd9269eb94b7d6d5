// `npm run train:default`: rebuilds the shipped default model from scratch (data from Debian packages, the
// recipe in src/trainingRecipe.ts), resuming when run again with the same --work folder.
//   --work DIR        data and training folder (default .cache/default-model)
//   --steps N         override the recipe's step count (smoke runs)
//   --max-sigma S     override λ (to compare variants; the shipped model uses the recipe)
//   --parameterization P  override the network output's parameterisation (likewise)
//   --lr X            override the peak learning rate (likewise)
//   --workers N       gradient worker threads (data parallel; 1 uses the second core of this machine)
//   --run NAME        training folder inside --work (default run)
//   --no-publish      train only; otherwise evaluate (README table, docs/default-model/comparison.png) and
//                     publish the model into packages/default-model/models/irsde-4x-small/
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_MODEL_DIR } from '../src/index.js';
import { type PublishedEvaluation, publishDefaultModel } from './publishDefaultModel.js';
import { type NoiseParameterization } from '@stablesr/irsde';
import { trainIRSDE } from '@stablesr/train';
import { DEFAULT_MODEL_RECIPE, DEFAULT_MODEL_SAMPLING } from './trainingRecipe.js';
import { prepareDefaultModelData } from './prepareData.js';

const { values } = parseArgs({ options: { work: { type: 'string' }, steps: { type: 'string' }, 'max-sigma': { type: 'string' }, parameterization: { type: 'string' }, lr: { type: 'string' }, workers: { type: 'string' }, run: { type: 'string' }, 'no-publish': { type: 'boolean' } } });
// Paths are the repository's, wherever npm runs the script from (npm run -w starts it in the package folder).
const root = join(import.meta.dirname, '..', '..', '..');
const work = resolve(root, values.work ?? '.cache/default-model');
const data = await prepareDefaultModelData(join(work, 'data'), (l) => console.log(l));
const recipe = {
  ...DEFAULT_MODEL_RECIPE,
  ...(values.steps && { steps: Number(values.steps) }),
  ...(values.parameterization && { parameterization: values.parameterization as NoiseParameterization }),
  ...(values.lr && { lr: Number(values.lr) }),
  ...(values.workers && { workers: Number(values.workers) }),
  sde: { ...DEFAULT_MODEL_RECIPE.sde, ...(values['max-sigma'] && { max_sigma: Number(values['max-sigma']) }) },
};
const out = join(work, values.run ?? 'run');
console.log(`training into ${out}: ${JSON.stringify(recipe)}`);
let last = performance.now();
let since = 0;
const result = await trainIRSDE({
  ...recipe,
  data: data.train,
  valData: data.holdout,
  out,
  onProgress: (e) => {
    if (e.stage !== 'train') return;
    since++;
    if (e.done % 25 === 0 || e.done === e.total) {
      const now = performance.now();
      console.log(`${new Date().toISOString()} step ${e.done}/${e.total} loss ${(e.detail!.loss as number).toFixed(5)} lr ${(e.detail!.lr as number).toExponential(2)} ${((now - last) / 1000 / since).toFixed(2)} s/step`);
      last = now;
      since = 0;
    }
  },
});
console.log(JSON.stringify(result));
if (!values['no-publish']) {
  // Evaluate on the held-out crops and publish into the package (weights, model.json, card, curve).
  const evalJson = join(out, 'evaluation.json');
  const picture = join(root, 'docs', 'default-model', 'comparison.png');
  mkdirSync(dirname(picture), { recursive: true });
  execFileSync(process.execPath, ['--import=tsx', '--conditions=stablesr-source', join(import.meta.dirname, 'evaluateDefaultModel.ts'), '--work', work, '--model', `stablesr-4x=${result.model}`, '--variants', '--temperature', String(DEFAULT_MODEL_SAMPLING.temperature), '--steps', String(DEFAULT_MODEL_SAMPLING.steps), '--self-ensemble', DEFAULT_MODEL_SAMPLING.selfEnsemble ? 'on' : 'off', '--json', evalJson, '--picture', picture], { stdio: 'inherit' });
  const evaluation = JSON.parse(readFileSync(evalJson, 'utf8')) as PublishedEvaluation;
  const manifest = await publishDefaultModel(out, DEFAULT_MODEL_DIR, evaluation, DEFAULT_MODEL_SAMPLING);
  console.log(`published ${DEFAULT_MODEL_DIR} (sha256 ${manifest.sha256})`);
}

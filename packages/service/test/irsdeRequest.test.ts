// IR-SDE requests are checked before they are queued: the CLI's option table (one in @stablesr/irsde), including
// temperature, and the model's own T for steps.
import test from 'ava';
import { type IrsdeDescriptor, RequestError, prepareUpscaleRequest } from '../src/index.js';

const model: IrsdeDescriptor = { name: 'small', family: 'irsde', defaultScale: 4, trainedScale: 4, timesteps: 20, defaultSampler: 'posterior' };
const prepare = (query: Record<string, string>) => prepareUpscaleRequest([model], query, 30, 20);
const refused = (t: import('ava').ExecutionContext, query: Record<string, string>, message: RegExp): void => {
  const e = t.throws(() => prepare(query), { instanceOf: RequestError, message });
  t.is(e?.statusCode, 400);
};

test('valid IR-SDE options are typed and the output is planned at the trained scale', (t) => {
  const r = prepare({ steps: '4', temperature: '0.5', sampler: 'posterior', seed: '3', 'tile-size': '128', 'self-ensemble': 'on' });
  t.deepEqual(r.options, { steps: 4, temperature: 0.5, sampler: 'posterior', seed: 3, tileSize: 128, selfEnsemble: 'on' });
  t.deepEqual([r.outputWidth, r.outputHeight, r.patches], [120, 80, 1]);
  t.is(prepare({ steps: '20', sampler: 'sde' }).options.steps, 20);
});

test('bad IR-SDE options are a 400 naming the query parameter', (t) => {
  refused(t, { steps: '21' }, /^query parameter steps must be ≤ 20 \(the model's T/);
  refused(t, { steps: '5', sampler: 'sde' }, /^query parameter steps 5: the sde sampler runs every timestep of the model \(T = 20\)/);
  refused(t, { temperature: '2.5' }, /^query parameter temperature must be ≤ 2, got 2\.5$/);
  refused(t, { temperature: 'warm' }, /^query parameter temperature must be a number, got "warm"$/);
  refused(t, { steps: '1.5' }, /^query parameter steps must be a whole number/);
  refused(t, { 'self-ensemble': 'true' }, /^query parameter self-ensemble must be one of on, off, got "true"$/);
  refused(t, { scale: '2' }, /^query parameter scale must be 4 for model small/);
  refused(t, { fidelity: '0.5' }, /^unknown query parameter fidelity \(model small is an IR-SDE model; it takes: model, scale, steps, sampler, temperature, self-ensemble, seed, tile-size, tile-overlap\)$/);
});

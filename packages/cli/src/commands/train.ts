import { AbortError } from '@stablesr/core';
import { type TrainIRSDEOptions, trainIRSDE, trainingPaths } from '@stablesr/train';
import { NOISE_PARAMETERIZATIONS } from '@stablesr/irsde';
import type { CliIo } from '../cliIo.js';
import { parseChoice } from '../options/parseChoice.js';
import { parseCommandArgs } from '../options/parseCommandArgs.js';
import { ENGINE_FLAGS, parseEngineFlags } from '../options/engineOptions.js';
import { parseFloatOption, parseIntOption } from '../options/parseNumber.js';
import { formatDuration } from '../progressBar.js';
import { UsageError } from '../usageError.js';

export { TRAIN_HELP } from '../help.js';

/** Models `stablesr train` trains, and the objectives each has. */
const MODELS = ['irsde', 'stablesr-unet', 'sd-unet'] as const;
const OBJECTIVES = ['irsde-ml', 'x0', 'eps', 'v'] as const;

const TRAIN_FLAGS = {
  data: { type: 'string' },
  out: { type: 'string' },
  steps: { type: 'string' },
  model: { type: 'string' },
  objective: { type: 'string' },
  batch: { type: 'string' },
  patch: { type: 'string' },
  lr: { type: 'string' },
  'lr-schedule': { type: 'string' },
  warmup: { type: 'string' },
  optimizer: { type: 'string' },
  'weight-decay': { type: 'string' },
  ema: { type: 'string' },
  seed: { type: 'string' },
  scale: { type: 'string' },
  nf: { type: 'string' },
  depth: { type: 'string' },
  'pixel-unshuffle': { type: 'string' },
  'max-sigma': { type: 'string' },
  T: { type: 'string' },
  'theta-schedule': { type: 'string' },
  loss: { type: 'string' },
  parameterization: { type: 'string' },
  'val-count': { type: 'string' },
  'val-data': { type: 'string' },
  'val-every': { type: 'string' },
  'val-crop': { type: 'string' },
  'val-sampler': { type: 'string' },
  'val-temperature': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  workers: { type: 'string' },
  init: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...ENGINE_FLAGS,
} as const;


/** Parses `stablesr train` arguments; `'help'` for --help. */
export function parseTrainArgs(args: string[]): TrainIRSDEOptions & { json: boolean; quiet: boolean } | 'help' {
  const { values: v, positionals } = parseCommandArgs('train', args, TRAIN_FLAGS);
  if (v.help) return 'help';
  if (positionals.length) throw new UsageError(`train: unexpected argument ${positionals[0]} (see stablesr train --help)`);
  for (const f of ['data', 'out', 'steps'] as const) if (v[f] === undefined) throw new UsageError(`train: --${f} is required (see stablesr train --help)`);
  const model = parseChoice('--model', v.model, MODELS) ?? 'irsde';
  const objective = parseChoice('--objective', v.objective, OBJECTIVES) ?? (model === 'irsde' ? 'irsde-ml' : 'eps');
  if (model !== 'irsde') throw new UsageError(`--model ${model}: training the latent U-Nets (objectives eps, v: see @stablesr/train ddpmLoss) needs their VAE and conditioning wired into the trainer, which is not done yet; --model irsde trains`);
  if (objective !== 'irsde-ml' && objective !== 'x0') throw new UsageError(`--objective ${objective} does not apply to --model irsde (its objectives are irsde-ml and x0)`);
  const int = (flag: keyof typeof v, min = 1, max?: number): number | undefined => parseIntOption(`--${flag}`, v[flag] as string | undefined, { min, ...(max !== undefined && { max }) });
  const float = (flag: keyof typeof v, min: number, max?: number, above?: number): number | undefined => parseFloatOption(`--${flag}`, v[flag] as string | undefined, { min, ...(max !== undefined && { max }), ...(above !== undefined && { above }) });
  const o: TrainIRSDEOptions = { data: v.data!, out: v.out!, steps: int('steps', 1, 10_000_000)!, ...parseEngineFlags(v) };
  const set = <K extends keyof TrainIRSDEOptions>(k: K, value: TrainIRSDEOptions[K] | undefined): void => {
    if (value !== undefined) o[k] = value;
  };
  set('batch', int('batch', 1, 4096));
  set('patch', int('patch', 8, 4096));
  set('scale', int('scale', 1, 16));
  set('lr', float('lr', 0, 1, 0));
  set('lrSchedule', parseChoice('--lr-schedule', v['lr-schedule'], ['cosine', 'constant'] as const));
  set('warmup', int('warmup', 0));
  set('optimizer', parseChoice('--optimizer', v.optimizer, ['adam', 'adamw'] as const));
  set('weightDecay', float('weight-decay', 0, 1));
  set('ema', float('ema', 0, 0.999999));
  set('seed', int('seed', 0));
  set('lossType', parseChoice('--loss', v.loss, ['l1', 'l2'] as const));
  if (objective === 'x0') o.objective = 'x0';
  set('parameterization', parseChoice('--parameterization', v.parameterization, NOISE_PARAMETERIZATIONS));
  set('valCount', int('val-count', 0));
  set('valData', v['val-data']);
  set('valEvery', int('val-every', 1));
  set('valCrop', int('val-crop', 8));
  set('valSampler', parseChoice('--val-sampler', v['val-sampler'], ['posterior', 'sde'] as const));
  set('valTemperature', float('val-temperature', 0, 2));
  set('checkpointEvery', int('checkpoint-every', 1));
  set('workers', int('workers', 0, 64));
  set('init', v.init);
  const network = { nf: int('nf', 1, 1024), depth: int('depth', 1, 8), pixel_unshuffle: int('pixel-unshuffle', 1, 8) };
  if (Object.values(network).some((x) => x !== undefined)) o.network = network;
  const sde = { max_sigma: float('max-sigma', 0, 255, 0), T: int('T', 1, 10000), schedule: parseChoice('--theta-schedule', v['theta-schedule'], ['cosine', 'linear', 'constant'] as const) };
  if (Object.values(sde).some((x) => x !== undefined)) o.sde = sde;
  return { ...o, json: v.json ?? false, quiet: v.quiet ?? false };
}

/**
 * `stablesr train`: runs {@link trainIRSDE} with a progress line (loss, it/s, ETA) and, with `--json`, the result
 * object. Ctrl-C saves a checkpoint and exits 130; running the command again resumes.
 */
export async function trainCommand(opts: TrainIRSDEOptions & { json: boolean; quiet: boolean }, io: CliIo): Promise<number> {
  const { json, quiet, ...options } = opts;
  const bar = quiet ? undefined : io.progress;
  let first: { t: number; step: number } | undefined;
  let lastDraw = 0;
  let lastLine = '';
  const result = await trainIRSDE({
    ...options,
    ...(io.signal && { signal: io.signal }),
    onProgress: (e) => {
      if (!bar) return;
      const now = performance.now();
      if (e.stage === 'train') {
        first ??= { t: now, step: e.done - 1 };
        const rate = (e.done - first.step) / Math.max(1e-9, (now - first.t) / 1000);
        const eta = (e.total - e.done) / Math.max(rate, 1e-9);
        lastLine = `train ${e.done}/${e.total}  loss ${(e.detail!.loss as number).toFixed(4)}  lr ${(e.detail!.lr as number).toExponential(2)}  ${rate >= 1 ? `${rate.toFixed(2)} it/s` : `${(1 / rate).toFixed(2)} s/it`}  ETA ${formatDuration(eta)}`;
      } else {
        lastLine = `validate ${e.done}/${e.total}`;
      }
      if (now - lastDraw > 200 || e.done === e.total) {
        lastDraw = now;
        bar.write(`\r${lastLine.slice(0, Math.max(10, bar.columns - 1)).padEnd(Math.max(10, bar.columns - 1))}`);
      }
    },
  }).catch((e: unknown) => {
    if (bar) bar.write('\n');
    if (e instanceof AbortError || (e as Error).name === 'AbortError') {
      throw new Error(`interrupted; checkpoint saved in ${trainingPaths(options.out).checkpoint} (run the same command to resume)`);
    }
    throw e;
  });
  if (bar) bar.write('\n');
  if (json) io.out(JSON.stringify({ startStep: result.startStep, step: result.step, loss: result.loss, valPsnr: result.valPsnr, checkpoint: result.checkpoint }));
  else {
    const psnr = result.valPsnr === null ? '' : `, validation PSNR-Y ${result.valPsnr.toFixed(2)} dB`;
    io.out(`trained steps ${result.startStep + 1}…${result.step} in ${formatDuration(result.seconds)}: loss ${result.loss?.toFixed(4) ?? 'n/a'}${psnr}; model ${result.model}, curve ${result.curve}`);
  }
  return 0;
}

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { type TensorToWrite, openSafetensors } from '@stablesr/core';
import { encodeIRSDEMetadata, readIRSDEMetadata } from '@stablesr/irsde';
import { TRAIN_METADATA_KEY, type TrainingRecord, writeCheckedSafetensors } from '@stablesr/train';
import { type DefaultModelManifest } from '../src/index.js';
import { type MethodScore } from './evaluateUpscalers.js';
import { DEFAULT_MODEL_IMAGES } from './trainingImages.js';

function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.partial-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Evaluation of the published model, as `evaluateDefaultModel.ts --json` writes it. */
export interface PublishedEvaluation {
  crops: string[];
  scale: number;
  scores: MethodScore[];
}

/**
 * Copies a finished training run into the model folder: the weights (the trainer's `model.safetensors`, EMA),
 * `model.json` (sha256, structure, sampler), the training curve, and `MODEL_CARD.md` written from the run's own
 * record (every hyperparameter, steps, wall time, images with source and licence) and the evaluation.
 */
export async function publishDefaultModel(run: string, modelDir: string, evaluation: PublishedEvaluation, sampling: { temperature: number; steps: number; selfEnsemble: boolean }, name = 'irsde-4x-small'): Promise<DefaultModelManifest> {
  mkdirSync(modelDir, { recursive: true });
  const source = openSafetensors(join(run, 'model.safetensors'));
  const trained = readIRSDEMetadata(source);
  if (!trained) throw new Error(`${run}/model.safetensors has no IR-SDE metadata: not a stablesr-trained model`);
  // The sampling default chosen from the evaluation goes into the weights' own metadata, so every loader uses it.
  const meta = { ...trained, temperature: sampling.temperature, steps: sampling.steps, selfEnsemble: sampling.selfEnsemble };
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, e] of source.entries()) tensors.set(k, { shape: e.shape, data: e.read() as Float32Array });
  source.close();
  const published = join(modelDir, 'model.safetensors');
  await writeCheckedSafetensors(published, tensors, { ...encodeIRSDEMetadata(meta), format: 'pt' });
  const weights = readFileSync(published);
  const ckpt = openSafetensors(join(run, 'checkpoint.safetensors'));
  const record = JSON.parse(ckpt.metadata[TRAIN_METADATA_KEY]!) as TrainingRecord;
  ckpt.close();
  const sha256 = createHash('sha256').update(weights).digest('hex');
  const manifest: DefaultModelManifest = {
    name,
    weights: 'model.safetensors',
    sha256,
    bytes: weights.length,
    network: meta.network,
    sde: meta.sde,
    scale: meta.scale,
    sampler: meta.sampler ?? 'posterior',
    steps: meta.steps ?? meta.sde.T ?? 20,
    temperature: meta.temperature,
    selfEnsemble: meta.selfEnsemble,
  };
  copyFileSync(join(run, 'training-curve.png'), join(modelDir, 'training-curve.png'));
  writeAtomic(join(modelDir, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeAtomic(join(modelDir, 'MODEL_CARD.md'), modelCard(manifest, record, evaluation));
  return manifest;
}

function outputLine(p: string): string {
  if (p === 'x0') return 'x0 parameterisation (stablesr\'s): the network sees z = (x_t − μ)/σ̄_t as μ + z and outputs the detail d, x̂₀ = μ + d, ε̂ = z − d·e^{−θ̄_t}/σ̄_t';
  if (p === 'edm') return 'edm parameterisation (stablesr\'s, after Karras et al. 2022): with y = x_t − μ, b_t = e^{−θ̄_t} and σ_d = 0.04, the network sees μ + y/√(b_t²σ_d² + σ̄_t²) and outputs r, x̂₀ = μ + c_skip·y + c_out·r (c_skip = b_tσ_d²/(b_t²σ_d² + σ̄_t²), c_out = σ_dσ̄_t/√(b_t²σ_d² + σ̄_t²))';
  if (p === 'residual') return 'residual parameterisation (stablesr\'s): ε̂ = z − net(μ + z, μ, t), z = (x_t − μ)/σ̄_t';
  return 'the noise ε̂ (the reference\'s)';
}

/** The shipped setting's (the first model row's) PSNR-Y gain over bicubic (the first row), signed, 2 decimals. */
function gain(e: PublishedEvaluation): string {
  const d = e.scores[2]!.psnr - e.scores[0]!.psnr;
  return `${d >= 0 ? '+' : ''}${d.toFixed(2)}`;
}

function modelCard(m: DefaultModelManifest, r: TrainingRecord, e: PublishedEvaluation): string {
  const o = r.options as Record<string, unknown>;
  const params = Math.round((m.bytes - 20_000) / 4 / 1e4) / 100;
  const base = e.scores[0]!;
  const hours = (r.seconds / 3600).toFixed(2);
  const rows = e.scores.map((s) => `| ${s.name} | ${s.psnr.toFixed(2)} | ${s === base ? '—' : `${s.psnr >= base.psnr ? '+' : ''}${(s.psnr - base.psnr).toFixed(2)}`} | ${s.ssim.toFixed(4)} | ${s.secondsPerCrop.toFixed(2)} |`);
  const images = DEFAULT_MODEL_IMAGES.map((i) => `| ${i.file} | ${i.role} | ${i.package} ${i.version} | ${i.licence} | ${i.credit} | ${i.shrink === 1 ? 'as is' : `÷${i.shrink} (Lanczos-3)`} |`);
  return `# ${m.name}: stablesr's default 4× upscaler

A small IR-SDE super-resolution model (mean-reverting SDE, Luo et al. 2023) trained from scratch by stablesr's own
trainer (\`npm run train:default\`, which runs \`packages/default-model/training/\`) on freely licensed photographs
from two Debian packages. It is what \`stablesr upscale in.png out.png\` and \`upscale()\` use when no checkpoint is
given. Generated by \`publishDefaultModel.ts\` from the training run's own record.

| | |
|---|---|
| file | \`model.safetensors\`, ${m.bytes} bytes, sha256 \`${m.sha256}\` (checked before every load) |
| network | \`ConditionalUNet\` nf ${m.network.nf}, depth ${m.network.depth}, pixel_unshuffle ${m.network.pixel_unshuffle} (stablesr extension: the network runs on the ×${m.network.pixel_unshuffle}-smaller grid), ≈ ${params} M parameters, float32 |
| SDE | λ = max_sigma ${m.sde.max_sigma}/255, T ${m.sde.T}, θ schedule ${m.sde.schedule}, eps ${m.sde.eps} |
| output | ${outputLine(String((r.spec as Record<string, unknown>).parameterization ?? 'eps'))} |
| sampling | ${m.sampler}, ${m.steps} step${m.steps === 1 ? '' : 's'} of the ${m.sde.T} timesteps, noise temperature ${m.temperature}${m.selfEnsemble ? ', geometric self-ensemble (the network averaged over the 8 flips/transposes of its input, 8× the cost)' : ''} (chosen from the evaluation below), seed 0 |
| scale | ×${m.scale} only (LR made by MATLAB bicubic ÷${m.scale}, 8-bit) |
| weights | EMA (decay ${String(o.ema)}, LitEma warm-up) |

## Training
| hyperparameter | value |
|---|---|
| steps | ${r.step} |
| batch × patch | ${String(o.batch)} × ${String(o.patch)}² (random crop, flips, transpose) |
| optimizer | ${String(o.optimizer)}, lr ${String(o.lr)}, ${String(o.lrSchedule)} schedule (to lr/100), ${String(o.warmup)} warm-up steps, weight decay ${String(o.weightDecay)} |
| loss | ${(r.spec as Record<string, unknown>).objective === 'x0' ? 'x₀-prediction loss, mean abs(x̂₀ − x₀) (stablesr\'s `x0Loss`; the reference\'s maximum-likelihood loss trained worse here, see the README)' : 'IR-SDE maximum-likelihood matching loss'}, ${String((r.spec as Record<string, unknown>).lossType)} |
| seed | ${String(o.seed)} |
| validation | every ${String(o.valEvery)} steps, ${String(o.valCrop)}² centre crop of each held-out image, ${String(o.valSampler)} sampler, all ${m.sde.T} steps, noise temperature ${String(o.valTemperature ?? 1)} |
| wall time | ${hours} h of training on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} (tfjs-wasm, ${1 + Number(o.workers ?? 0)} thread${Number(o.workers ?? 0) > 0 ? 's: data-parallel gradient workers' : ''}; validation on ONNX Runtime) |
| validation PSNR-Y | ${r.history.valSteps.map((st, i) => `${st}: ${r.history.valPsnr[i]!.toFixed(2)}`).join(', ')} dB (step 0 is the untrained network, whose zero output layer makes it the bicubic upscale μ; the shipped sampling setting is scored in the evaluation below) |

![training curve](training-curve.png)

## Images
Only photographs with a stated free licence; the UKUI wallpapers (computer graphics), scikit-image's synthetic and
text images, the Middlebury motorcycle pair and the moon (no licence stated) are left out. "holdout" images were
never trained on: they are the validation set and the evaluation below.

| image | role | source package | licence | credit | preprocessing |
|---|---|---|---|---|---|
${images.join('\n')}

## Evaluation
${e.crops.length} crops of 256² (three per held-out image, at 1/4, 1/2 and 3/4 along the diagonal), downscaled ×${e.scale}
by MATLAB bicubic to 64² 8-bit, upscaled back; PSNR and SSIM on luma (BT.601), ${e.scale} pixels shaved.

| method | PSNR-Y (dB) | vs bicubic | SSIM-Y | s / crop |
|---|---|---|---|---|
${rows.join('\n')}

## Limits
Trained for ${r.step} steps on ${DEFAULT_MODEL_IMAGES.filter((i) => i.role === 'train').length} images, on two CPU cores. On the held-out crops its shipped setting
gains ${gain(e)} dB PSNR-Y over bicubic: it restores edges and fine texture that bicubic blurs, but it does not invent
the detail of large published models (StableSR), and it was trained on clean bicubic degradations only (no blur,
noise or JPEG), so real camera or web images with those defects are not restored.
`;
}

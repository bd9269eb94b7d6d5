import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AbortError,
  type EngineOptions,
  type ProgressCallback,
  Xoshiro128,
  quantize,
  recordWeightRequests,
  resolveEngine,
  weightsFromSource,
  openWeights,
  psnrY,
  type TensorToWrite,
} from '@stablesr/core';
import {
  type ConditionalUNetConfig,
  type IRSDEConfig,
  type IRSDEModelMetadata,
  type IRSDESamplerName,
  type MatchingLossType,
  type NoiseParameterization,
  CONDITIONAL_UNET_DEFAULTS,
  NOISE_PARAMETERIZATIONS,
  IRSDE_DEFAULTS,
  IRSDE_SISR_SDE,
  compileConditionalUNet,
  disposeConditionalUNet,
  encodeIRSDEMetadata,
  irsdeSchedule,
  irsdeSuperResolve,
  loadConditionalUNet,
} from '@stablesr/irsde';
import { type AdamState, ADAM_INITIAL_STATE, adamStep, adamWStep, disposeAdamState } from './adam.js';
import { writeCheckedSafetensors } from './checkedSafetensors.js';
import { withTrainingBackend } from './trainingBackend.js';
import { emaUpdate } from './ema.js';
import { type TrainingImage, readImageFolder } from './imageFolder.js';
import { type IRSDEObjective } from './irsdeObjective.js';
import { DataParallelGradients } from './dataParallelGradients.js';
import { type LrScheduleName, learningRate } from './lrSchedule.js';
import { initParameters, parametersSource } from './parameterInit.js';
import { degradeBicubic, samplePatchBatch } from './patchBatch.js';
import { type Parameters, disposeParameters, readParameters } from './tensorWeightView.js';
import { type TrainingRecord, checkSameModel, loadTrainingCheckpoint, saveTrainingCheckpoint } from './trainingCheckpoint.js';
import { writeTrainingCurve } from './trainingCurve.js';
import { splitTrainingImages } from './trainingSplit.js';

/** Options of {@link trainIRSDE}; every field but `data`, `out` and `steps` has the default shown. */
export interface TrainIRSDEOptions extends EngineOptions {
  /** Folder of training images (sub-folders and non-image files are ignored). */
  data: string;
  /** Output folder: checkpoint, model, curve. Re-running with the same folder resumes. */
  out: string;
  /** Total optimizer steps of the run (a resumed run continues up to this). */
  steps: number;
  /** Network; default the official SISR `ConditionalUNet(3, 3, nf 64, depth 4)`. */
  network?: Partial<ConditionalUNetConfig>;
  /** SDE; default the official SISR setting (λ 30, T 100, cosine, eps 0.005). */
  sde?: Partial<IRSDEConfig>;
  /** Upscaling factor of the training pairs. Default 4. */
  scale?: number;
  /** Matching loss. Default `l1` (the official setting). */
  lossType?: MatchingLossType;
  /** `irsde-ml` (default, the reference's maximum-likelihood loss) or stablesr's `x0` (x₀-prediction, see x0Loss). */
  objective?: IRSDEObjective;
  /** What the network outputs: `eps` (default, the reference's), or stablesr's `residual` / `x0` (NoiseParameterization). */
  parameterization?: NoiseParameterization;
  /** Patches per step. Default 4. */
  batch?: number;
  /** HQ patch side, a multiple of `scale`. Default 128. */
  patch?: number;
  /** Peak learning rate. Default 1e-4 (the official SISR setting). */
  lr?: number;
  /** Default `cosine` (to lr/100 at `steps`). */
  lrSchedule?: LrScheduleName;
  /** Linear warm-up steps. Default 0. */
  warmup?: number;
  /** `adam` (default, as the official trainer) or `adamw`. */
  optimizer?: 'adam' | 'adamw';
  /** Weight decay (L2 for Adam, decoupled for AdamW). Default 0. */
  weightDecay?: number;
  /** EMA decay of the weights written to the model (`LitEma` warm-up); 0 turns EMA off. Default 0.999. */
  ema?: number;
  /** Seed of crops, augmentation, timesteps, noise, initialisation and the validation split. Default 0. */
  seed?: number;
  /** Held-out images (default a tenth, at least one when there are two or more); 0 with `valData`. */
  valCount?: number;
  /** A separate folder of validation images: every image of `data` then trains and these are the held-out set. */
  valData?: string;
  /** Validate every this many steps (and at the end). Default steps/10. */
  valEvery?: number;
  /** HQ side of the centre crop of each validation image. Default 256. */
  valCrop?: number;
  /** Sampler and step count (T) used for validation and recorded as the model's defaults. Default posterior, T. */
  valSampler?: IRSDESamplerName;
  /**
   * Noise temperature of the validation sampler (IRSDESuperResolveOptions.temperature), recorded in the model as its
   * sampling default when it is not 1. Default 1 (the reference's sampler).
   */
  valTemperature?: number;
  /** Save a checkpoint every this many steps (and at the end, and when aborted). Default 100. */
  checkpointEvery?: number;
  /**
   * Extra threads computing each step's gradients, each on its own rows of the batch (tfjs-wasm runs one thread per
   * instance in Node): 1 uses a second core. The result equals the single-thread step up to float summation order.
   * Default 0.
   */
  workers?: number;
  /** Start from these weights (an IR-SDE checkpoint of the same network) instead of a fresh initialisation. */
  init?: string;
  /** Per step (`stage: 'train'`, detail loss, lr) and per validation image (`stage: 'validate'`). */
  onProgress?: ProgressCallback;
  /** Aborting saves a checkpoint at the current step, then rejects with an AbortError. */
  signal?: AbortSignal;
}

/** What a run ended with (the `--json` line of `stablesr train`). */
export interface TrainResult {
  startStep: number;
  step: number;
  /** Mean loss of the last (up to) 100 steps; null when no step ran in this or an earlier session. */
  loss: number | null;
  /** Mean validation PSNR-Y (dB) of the last validation; null without validation images. */
  valPsnr: number | null;
  checkpoint: string;
  model: string;
  curve: string;
  seconds: number;
}

/** The files of a training folder. */
export function trainingPaths(out: string): { checkpoint: string; model: string; curve: string } {
  return { checkpoint: join(out, 'checkpoint.safetensors'), model: join(out, 'model.safetensors'), curve: join(out, 'training-curve.png') };
}

function positiveInt(v: number, flag: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new Error(`${flag} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function positiveNumber(v: number, flag: string, allowZero = false): number {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${v}`);
  return v;
}

/**
 * Trains an IR-SDE super-resolution model (the official `train.py` + `optimize_parameters`: μ = bicubic-upscaled LQ,
 * a random timestep per patch, x_t from the closed-form marginal, the ML loss, Adam) on a folder of photographs.
 * Checkpoints are atomic; re-running with the same `out` resumes from the last one (the random stream included), so
 * a killed run loses at most the steps since it. The model file (`model.safetensors`: EMA weights + how to sample
 * them) upscales with `stablesr upscale --checkpoint`. A non-finite loss stops the run with the last good checkpoint kept.
 */
export async function trainIRSDE(o: TrainIRSDEOptions): Promise<TrainResult> {
  const t0 = performance.now();
  // Building the network on zeros below needs a started backend (wasm, registered on import, starts asynchronously).
  await tf.ready();
  const steps = positiveInt(o.steps, '--steps');
  const scale = positiveInt(o.scale ?? 4, '--scale');
  const batch = positiveInt(o.batch ?? 4, '--batch');
  const patch = positiveInt(o.patch ?? 128, '--patch', scale);
  if (patch % scale !== 0) throw new Error(`--patch ${patch} must be a multiple of --scale ${scale}`);
  const lr = positiveNumber(o.lr ?? 1e-4, '--lr');
  if (!(lr < 1)) throw new Error(`--lr must be below 1, got ${lr}`);
  const lrSchedule = o.lrSchedule ?? 'cosine';
  if (lrSchedule !== 'cosine' && lrSchedule !== 'constant') throw new Error(`--lr-schedule must be cosine or constant, got ${String(lrSchedule)}`);
  const warmup = positiveInt(o.warmup ?? 0, '--warmup', 0);
  const optimizer = o.optimizer ?? 'adam';
  if (optimizer !== 'adam' && optimizer !== 'adamw') throw new Error(`--optimizer must be adam or adamw, got ${String(optimizer)}`);
  const weightDecay = positiveNumber(o.weightDecay ?? 0, '--weight-decay', true);
  const emaDecay = o.ema ?? 0.999;
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new Error(`--ema must be in [0, 1), got ${emaDecay}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${seed}`);
  const workers = positiveInt(o.workers ?? 0, '--workers', 0);
  const valEvery = positiveInt(o.valEvery ?? Math.max(1, Math.round(steps / 10)), '--val-every');
  const checkpointEvery = positiveInt(o.checkpointEvery ?? 100, '--checkpoint-every');
  const valCrop = positiveInt(o.valCrop ?? 256, '--val-crop', scale);
  const lossType = o.lossType ?? 'l1';
  if (lossType !== 'l1' && lossType !== 'l2') throw new Error(`loss type must be l1 or l2, got ${String(lossType)}`);
  const objective = o.objective ?? 'irsde-ml';
  if (objective !== 'irsde-ml' && objective !== 'x0') throw new Error(`--objective must be irsde-ml or x0 for IR-SDE, got ${String(objective)}`);
  const parameterization = o.parameterization ?? 'eps';
  if (!NOISE_PARAMETERIZATIONS.includes(parameterization)) throw new Error(`--parameterization must be one of ${NOISE_PARAMETERIZATIONS.join(', ')}, got ${String(parameterization)}`);
  const network: Required<ConditionalUNetConfig> = { ...CONDITIONAL_UNET_DEFAULTS, in_nc: 3, out_nc: 3, nf: 64, ...stripUndefined(o.network ?? {}) };
  const sde: Required<IRSDEConfig> = { ...IRSDE_DEFAULTS, ...IRSDE_SISR_SDE, ...stripUndefined(o.sde ?? {}) } as Required<IRSDEConfig>;
  const schedule = irsdeSchedule(sde);
  const valSampler = o.valSampler ?? 'posterior';
  if (valSampler !== 'posterior' && valSampler !== 'sde') throw new Error(`--val-sampler must be posterior or sde, got ${String(valSampler)}`);
  const valTemperature = o.valTemperature ?? 1;
  if (!(valTemperature >= 0 && valTemperature <= 2)) throw new Error(`--val-temperature must be a number in [0, 2], got ${valTemperature}`);
  // Builds the network once on zeros to learn its key tree and fail early on a bad config.
  const shapes = recordWeightRequests((v) => loadConditionalUNet(network, v), disposeConditionalUNet);
  // An `eps` run's spec stays as before this option existed, so its checkpoints still resume.
  const spec = { model: 'irsde', objective, network, sde, scale, lossType, ...(parameterization !== 'eps' && { parameterization }) };
  const options = { batch, patch, lr, lrSchedule, warmup, optimizer, weightDecay, ema: emaDecay, seed, valEvery, valCrop, valSampler, ...(valTemperature !== 1 && { valTemperature }), ...(workers > 0 && { workers }), checkpointEvery, steps };

  const images = await readImageFolder(o.data, patch);
  let split: { train: string[]; validation: string[] };
  let trainImages: TrainingImage[];
  let valImages: TrainingImage[];
  if (o.valData !== undefined) {
    if (o.valCount !== undefined && o.valCount !== 0) throw new Error(`--val-count ${o.valCount} and --val-data ${o.valData} exclude each other`);
    const held = await readImageFolder(o.valData, scale * 8);
    split = { train: images.map((i) => i.name), validation: held.map((i) => i.name) };
    trainImages = images;
    valImages = held;
  } else {
    split = splitTrainingImages(images.map((i) => i.name), seed, o.valCount);
    const byName = new Map(images.map((i) => [i.name, i]));
    trainImages = split.train.map((n) => byName.get(n)!);
    valImages = split.validation.map((n) => byName.get(n)!).filter((i) => Math.min(i.width, i.height) >= scale * 8);
  }

  mkdirSync(o.out, { recursive: true });
  const paths = trainingPaths(o.out);
  const engine = await resolveEngine(o);

  return withTrainingBackend(async () => {
    const resumed = loadTrainingCheckpoint(paths.checkpoint);
    let params: Map<string, tf.Tensor>;
    let adam: AdamState;
    let ema: Map<string, tf.Tensor>;
    let record: TrainingRecord;
    if (resumed) {
      try {
        checkSameModel(paths.checkpoint, resumed.record.spec, spec);
      } catch (e) {
        disposeAll(resumed.tensors.params, resumed.tensors.adam, resumed.tensors.ema);
        throw e;
      }
      ({ params, adam, ema } = resumed.tensors);
      record = { ...resumed.record, options, split };
    } else {
      const rng = new Xoshiro128(seed);
      params = o.init ? loadInitWeights(o.init, network) : initParameters(shapes, rng);
      // Preconditioned forms start from a zero output layer: the untrained model is then exactly bicubic (x̂₀ = μ),
      // where torch's default initialisation of final_conv gives O(1) outputs and a first validation at 9.5 dB.
      if (!o.init && parameterization !== 'eps') zeroOutputLayer(params);
      adam = ADAM_INITIAL_STATE;
      ema = emaDecay > 0 ? new Map([...params].map(([k, v]) => [k, tf.clone(v)])) : new Map();
      record = { format: 1, spec, options, step: 0, rng: rng.state(), history: { loss: [], valSteps: [], valPsnr: [] }, seconds: 0, split };
    }
    const startStep = record.step;
    const rng = Xoshiro128.fromState(record.rng);
    const gradients = new DataParallelGradients({ network, sde, parameterization, lossType, objective }, schedule, workers);
    let sessionStart = performance.now();
    let lastSaved = startStep;
    const save = async (): Promise<void> => {
      record.rng = rng.state();
      record.seconds += (performance.now() - sessionStart) / 1000;
      sessionStart = performance.now();
      await saveTrainingCheckpoint(paths.checkpoint, record, { params, adam, ema });
      await writeModel(paths.model, emaDecay > 0 ? ema : params, { network, sde, scale, sampler: valSampler, steps: sde.T, ...(parameterization !== 'eps' && { parameterization }), ...(valTemperature !== 1 && { temperature: valTemperature }) });
      await writeTrainingCurve(paths.curve, {
        lossSteps: record.history.loss.map((_, i) => i + 1),
        loss: record.history.loss,
        valSteps: record.history.valSteps,
        valPsnr: record.history.valPsnr,
        title: `IR-SDE ×${scale}, nf ${network.nf}, depth ${network.depth}${network.pixel_unshuffle > 1 ? `, unshuffle ${network.pixel_unshuffle}` : ''}: step ${record.step}`,
      });
      lastSaved = record.step;
    };
    const validate = async (): Promise<void> => {
      if (!valImages.length) return;
      const psnr = await validationPsnr(emaDecay > 0 ? ema : params, network, schedule, valImages, { scale, crop: valCrop, sampler: valSampler, temperature: valTemperature, parameterization, engine, onProgress: o.onProgress, signal: o.signal });
      record.history.valSteps.push(record.step);
      record.history.valPsnr.push(psnr);
    };
    try {
      if (record.step === 0 && valImages.length) await validate();
      while (record.step < steps) {
        if (o.signal?.aborted) {
          await save();
          throw new AbortError();
        }
        const step = record.step + 1;
        const rate = learningRate({ name: lrSchedule, lr, warmup, totalSteps: steps }, step);
        const lossValue = await trainStep();
        async function trainStep(): Promise<number> {
          const b = samplePatchBatch(trainImages, rng, { batch, patch, scale });
          const t = Array.from({ length: batch }, () => 1 + rng.nextInt(sde.T));
          const noise = rng.normals(b.hq.length);
          const { loss: value, grads } = await gradients.step(params, { hq: b.hq, lq: b.lq, noise: Float32Array.from(noise), t, patch, scale });
          if (!Number.isFinite(value)) {
            tf.dispose([...grads.values()]);
            return value;
          }
          const stepFn = optimizer === 'adamw' ? adamWStep : adamStep;
          const next = stepFn(params, grads, adam, { lr: rate, weightDecay });
          tf.dispose([...grads.values()]);
          disposeParameters(params);
          if (adam !== ADAM_INITIAL_STATE) disposeAdamState(adam);
          params = next.params;
          adam = next.state;
          if (emaDecay > 0) {
            // LitEma: the decay ramps up as (1 + n)/(10 + n), so early weights do not dominate a short run.
            const d = Math.min(emaDecay, (1 + step) / (10 + step));
            const shadow = emaUpdate(ema, params, d);
            disposeParameters(ema);
            ema = shadow;
          }
          return value;
        }
        if (!Number.isFinite(lossValue)) {
          throw new Error(`training diverged: the loss is ${lossValue} at step ${step}; the last good checkpoint is ${paths.checkpoint} (step ${lastSaved})`);
        }
        record.step = step;
        record.history.loss.push(lossValue);
        o.onProgress?.({ stage: 'train', done: step, total: steps, detail: { loss: lossValue, lr: rate, startStep } });
        if (step % valEvery === 0 || step === steps) await validate();
        if (step % checkpointEvery === 0 || step === steps) await save();
      }
      if (lastSaved !== record.step || !resumed) await save();
    } finally {
      await gradients.close();
      disposeAll(params, adam, ema);
    }
    const recent = record.history.loss.slice(-100);
    return {
      startStep,
      step: record.step,
      loss: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null,
      valPsnr: record.history.valPsnr.length ? record.history.valPsnr[record.history.valPsnr.length - 1]! : null,
      ...paths,
      seconds: (performance.now() - t0) / 1000,
    };
  });
}

function zeroOutputLayer(params: Map<string, tf.Tensor>): void {
  for (const key of ['final_conv.weight', 'final_conv.bias']) {
    const p = params.get(key);
    if (!p) continue;
    params.set(key, tf.zerosLike(p));
    p.dispose();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function disposeAll(params: Parameters, adam: AdamState, ema: Parameters): void {
  disposeParameters(params);
  if (adam !== ADAM_INITIAL_STATE) disposeAdamState(adam);
  disposeParameters(ema);
}

/** Starting weights from an IR-SDE checkpoint; its structure must be the trained network's (strict load). */
function loadInitWeights(path: string, network: ConditionalUNetConfig): Map<string, tf.Tensor> {
  const w = openWeights(path);
  try {
    disposeConditionalUNet(loadConditionalUNet(network, w));
    return readParameters(w);
  } catch (e) {
    throw new Error(`--init ${path}: ${(e as Error).message}`);
  } finally {
    w.close();
  }
}

/** Writes the upscaling model: the weights under the state dict's keys, with how to build and sample it. */
async function writeModel(path: string, weights: Parameters, meta: IRSDEModelMetadata): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  for (const k of [...weights.keys()].sort()) {
    const t = weights.get(k)!;
    tensors.set(k, { shape: t.shape, data: (await t.data()) as Float32Array });
  }
  await writeCheckedSafetensors(path, tensors, { ...encodeIRSDEMetadata(meta), format: 'pt' });
}

interface ValidationOptions {
  scale: number;
  parameterization: NoiseParameterization;
  crop: number;
  sampler: IRSDESamplerName;
  temperature: number;
  engine: Awaited<ReturnType<typeof resolveEngine>>;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * Mean PSNR-Y (shave = scale) of the model's upscale of each held-out image's centre crop, from its MATLAB-bicubic
 * 8-bit LQ, with seed 0: the same numbers for the same weights, comparable across runs.
 */
export async function validationPsnr(weights: Parameters, network: ConditionalUNetConfig, schedule: ReturnType<typeof irsdeSchedule>, images: readonly TrainingImage[], o: ValidationOptions): Promise<number> {
  const source = await parametersSource(weights, 'validation weights');
  const unet = loadConditionalUNet(network, weightsFromSource(source));
  const net = compileConditionalUNet(unet, o.engine);
  let sum = 0;
  try {
    for (const [i, img] of images.entries()) {
      const side = Math.floor(Math.min(o.crop, img.width, img.height) / o.scale) * o.scale;
      const top = Math.floor((img.height - side) / 2);
      const left = Math.floor((img.width - side) / 2);
      const hq = new Float32Array(side * side * 3);
      const hq8 = new Uint8Array(side * side * 3);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side * 3; x++) {
          const v = img.data[(top + y) * img.width * 3 + left * 3 + x]!;
          hq8[y * side * 3 + x] = v;
          hq[y * side * 3 + x] = v / 255;
        }
      }
      const lqData = degradeBicubic(hq, side, side, o.scale);
      const lq = tf.tensor4d(lqData, [1, side / o.scale, side / o.scale, 3]);
      try {
        const sr = await irsdeSuperResolve(net, schedule, lq, { scale: o.scale, sampler: o.sampler, temperature: o.temperature, parameterization: o.parameterization, seed: 0, ...(o.signal && { signal: o.signal }) });
        const out = quantize((await sr.data()) as Float32Array, { mode: 'round', bitDepth: 8, signed: false }) as Uint8Array;
        sr.dispose();
        sum += psnrY(out, hq8, side, side, o.scale);
      } finally {
        lq.dispose();
      }
      o.onProgress?.({ stage: 'validate', done: i + 1, total: images.length });
    }
  } finally {
    await net.network.dispose();
    disposeConditionalUNet(unet);
  }
  return sum / images.length;
}

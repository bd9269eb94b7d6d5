import type * as tf from '@tensorflow/tfjs-core';
import { type Ops, type WeightView, tfjsOps } from '@stablesr/core';
import {
  type AutoencoderKL,
  type EncodeOptions,
  type EncodeResult,
  type LoadAutoencoderOptions,
  type TiledOptions,
  DEFAULT_DECODE_TILE,
  assertNoUnusedKeys,
  autoencoderDecodeForward,
  autoencoderEncodeForward,
  checkImageShape,
  checkLatent,
  checkLatentShape,
  disposeAutoencoderKL,
  encodeMomentsTiled,
  loadAutoencoderParts,
  posteriorFromMoments,
} from '../autoencoderKL.js';
import { type AutoencoderKLConfig, DEFAULT_NUM_FUSE_BLOCK, type DDConfig, SD_SCALE_FACTOR, downsamplingFactor } from '../config.js';
import { numFuseBlockFromWeights } from '../autoencoderKLConfigFromWeights.js';
import { cfwFusionLevels } from '../decoder.js';
import { featureOpsFrom } from '../featureOps.js';
import { traceProgram } from '../tiled/program.js';
import { runTiledProgram } from '../tiled/tiledExecutor.js';
import { planTileGrid } from '../tiled/tileGrid.js';

/**
 * StableSR's CFW autoencoder (`AutoencoderKLResi`): the SD autoencoder whose decoder is `Decoder_Mix`
 * (fusion layers `decoder.fusion_layer_<i>` for 0 < i < L−1) and whose encoder also returns features.
 */
export interface CfwAutoencoder extends AutoencoderKL {
  /** Encoder levels whose features `cfwEncode` returns, in order (see {@link cfwFeatureLevels}). */
  readonly featureLevels: readonly number[];
}

/**
 * Encoder levels the reference returns with `return_fea=True`: it hard-codes levels 1 and 2, which for
 * the released 4-level model are exactly the decoder's fusion levels 1…L−2. Generalised as levels
 * 1…max(2, L−2) that exist below the last level boundary, so that every fusion level gets its feature and
 * 3-level configs return the same list as the reference.
 */
export function cfwFeatureLevels(dd: DDConfig): number[] {
  const L = dd.ch_mult.length;
  const levels: number[] = [];
  for (let i = 1; i <= Math.max(2, L - 2) && i < L; i++) levels.push(i);
  return levels;
}

/**
 * Loads the CFW autoencoder (`vqgan_cfw_00011.ckpt`: keys `encoder.*`, `decoder.*` including
 * `decoder.fusion_layer_<i>.encode_enc_{1,2,3}.*`, `quant_conv.*`, `post_quant_conv.*`, view prefix "").
 * `config.ddconfig.num_fuse_block` is the number of RRDBs per fusion layer; when the config does not say it, it
 * is read off the fusion layers' keys ({@link numFuseBlockFromWeights}; the reference's default 2 where there are none).
 */
export function loadCfwAutoencoder(config: AutoencoderKLConfig, view: WeightView, opts: LoadAutoencoderOptions = {}): CfwAutoencoder {
  const parts = loadAutoencoderParts(config, view, config.ddconfig.num_fuse_block ?? numFuseBlockFromWeights(view) ?? DEFAULT_NUM_FUSE_BLOCK);
  const cfw: CfwAutoencoder = {
    ...parts,
    scaleFactor: opts.scaleFactor ?? SD_SCALE_FACTOR,
    downsamplingFactor: downsamplingFactor(config.ddconfig),
    featureLevels: cfwFeatureLevels(config.ddconfig),
  };
  if (opts.strict !== false) {
    try {
      assertNoUnusedKeys(view, 'AutoencoderKLResi (CFW)');
    } catch (e) {
      disposeAutoencoderKL(cfw);
      throw e;
    }
  }
  return cfw;
}

export function disposeCfwAutoencoder(cfw: CfwAutoencoder): void {
  disposeAutoencoderKL(cfw);
}

/** What {@link cfwEncode} returns; the caller owns every tensor (see {@link disposeCfwEncodeResult}). */
export interface CfwEncodeResult {
  posterior: EncodeResult;
  /** NHWC features of encoder levels `cfw.featureLevels` (`enc_fea`), each before its level's downsample. */
  encFeatures: tf.Tensor4D[];
}

export function disposeCfwEncodeResult(r: CfwEncodeResult): void {
  for (const t of [r.posterior.moments, r.posterior.mean, r.posterior.logvar, r.posterior.std, r.posterior.latent, ...r.encFeatures]) t.dispose();
}

/** What {@link cfwEncodeOps} returns: the network outputs of the CFW encoder on any engine. */
export interface CfwEncodeOutputs<T> {
  /** quant_conv(encoder(x)) `[B, h, w, 2·embed_dim]` (mean channels first, then logvar). */
  moments: T;
  /** NHWC features of encoder levels `cfw.featureLevels` (`enc_fea`), each before its level's downsample. */
  encFeatures: T[];
}

/**
 * The network of `AutoencoderKLResi.encode(x, return_fea=True)` on any engine: the moments and the encoder
 * features `enc_fea` that {@link cfwDecodeOps} fuses. The posterior is host math ({@link posteriorFromMoments}).
 */
export function cfwEncodeOps<T>(ops: Ops<T>, cfw: CfwAutoencoder, image: T): CfwEncodeOutputs<T> {
  checkImageShape(cfw, ops.shape(image));
  const [moments, ...encFeatures] = autoencoderEncodeForward(featureOpsFrom(ops), cfw, image, cfw.featureLevels);
  return { moments: moments!, encFeatures };
}

/** `AutoencoderKLResi.encode(x)` (posterior) plus the encoder features `enc_fea`, untiled ({@link cfwEncodeOps} on tfjs). */
export function cfwEncode(cfw: CfwAutoencoder, image: tf.Tensor4D, opts: EncodeOptions = {}): CfwEncodeResult {
  const { moments, encFeatures } = cfwEncodeOps(tfjsOps, cfw, image) as CfwEncodeOutputs<tf.Tensor4D>;
  return { posterior: posteriorFromMoments(moments, cfw.scaleFactor, opts.noise), encFeatures };
}

/** {@link cfwEncode} computed tile by tile. */
export async function cfwEncodeTiled(cfw: CfwAutoencoder, image: tf.Tensor4D, opts: EncodeOptions & TiledOptions = {}): Promise<CfwEncodeResult> {
  const { moments, features } = await encodeMomentsTiled(cfw, image, opts, cfw.featureLevels);
  return { posterior: posteriorFromMoments(moments, cfw.scaleFactor, opts.noise), encFeatures: features };
}

/** The features the decoder's fusion layers read (fusion level i takes encoder level i's feature), checked against z. */
function fusionInputs<T>(cfw: CfwAutoencoder, zShape: readonly number[], encFeatures: readonly T[], shapeOf: (t: T) => readonly number[]): T[] {
  const dd = cfw.config.ddconfig;
  const L = dd.ch_mult.length;
  return cfw.decoder.fusionLevels.map((level) => {
    const k = cfw.featureLevels.indexOf(level);
    const fea = k >= 0 ? encFeatures[k] : undefined;
    if (fea === undefined) throw new Error(`cfwDecode: ${encFeatures.length} encoder feature map(s) given, fusion level ${level} needs enc_fea[${k}] (pass cfwEncode's encFeatures)`);
    const s = 2 ** (L - 1 - level);
    const want = [zShape[0]!, zShape[1]! * s, zShape[2]! * s, dd.ch * dd.ch_mult[level]!];
    const shape = shapeOf(fea);
    if (shape.length !== 4 || shape.some((d, i) => d !== want[i])) {
      throw new Error(`cfwDecode: enc_fea[${k}] (encoder level ${level}) has shape [${shape}], expected NHWC [${want}] for a latent of shape [${zShape}]`);
    }
    return fea;
  });
}

function checkFidelityWeight(w: number): void {
  if (!Number.isFinite(w)) throw new Error(`cfwDecode: fidelity weight w must be a finite number, got ${w}`);
}

/**
 * `AutoencoderKLResi.decode(z, enc_fea)` with `decoder.fusion_w = w` on any engine: post_quant_conv, then
 * `Decoder_Mix`, which adds `w·fuse(enc_fea, h)` at each fusion level. z is the **unscaled** latent; w = 0
 * gives the plain decoder (the fusion layers are left out). `w` is a plain number: a graph engine bakes it in
 * when the graph is built (rebuild for another w).
 */
export function cfwDecodeOps<T>(ops: Ops<T>, cfw: CfwAutoencoder, z: T, encFeatures: readonly T[], w: number): T {
  const zShape = ops.shape(z);
  checkLatentShape(cfw, zShape);
  checkFidelityWeight(w);
  const feats = fusionInputs(cfw, zShape, encFeatures, (t) => ops.shape(t));
  return autoencoderDecodeForward(featureOpsFrom(ops), cfw, z, { encFeatures: feats, w });
}

/** {@link cfwDecodeOps} on tfjs: `AutoencoderKLResi.decode(z, enc_fea)` with fusion weight w, untiled. */
export function cfwDecode(cfw: CfwAutoencoder, z: tf.Tensor4D, encFeatures: readonly tf.Tensor4D[], w: number): tf.Tensor4D {
  return cfwDecodeOps(tfjsOps, cfw, z, encFeatures, w) as tf.Tensor4D;
}

/** {@link cfwDecode} computed tile by tile (tileSize in latent pixels). */
export async function cfwDecodeTiled(cfw: CfwAutoencoder, z: tf.Tensor4D, encFeatures: readonly tf.Tensor4D[], w: number, opts: TiledOptions = {}): Promise<tf.Tensor4D> {
  checkLatent(cfw, z);
  checkFidelityWeight(w);
  const feats = fusionInputs(cfw, z.shape, encFeatures, (t) => t.shape);
  const L = cfw.config.ddconfig.ch_mult.length;
  const grid = planTileGrid(z.shape[1], z.shape[2], opts.tileSize ?? DEFAULT_DECODE_TILE);
  const inputs = [{ channels: z.shape[3], shift: 0 }, ...cfw.decoder.fusionLevels.map((level, k) => ({ channels: feats[k]!.shape[3], shift: L - 1 - level }))];
  const program = traceProgram(inputs, (ops, [x, ...enc]) => [autoencoderDecodeForward(ops, cfw, x!, { encFeatures: enc, w })]);
  const [image] = await runTiledProgram(program, grid, [z, ...feats], { ...opts, stage: 'decode' });
  return image!;
}

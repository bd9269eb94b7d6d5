import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type NoiseSource, type Ops, type ProgressCallback, type WeightView, WeightFileError, disposeModule, loadConv2d, tfjsOps } from '@stablesr/core';
import { type AutoencoderKLConfig, SD_SCALE_FACTOR, downsamplingFactor } from './config.js';
import { type Decoder, type DecoderFusion, decoderForward, loadDecoder } from './decoder.js';
import { type DiagonalGaussian, diagonalGaussian, disposeDiagonalGaussian, sampleDiagonalGaussian } from './diagonalGaussian.js';
import { type Encoder, encoderForward, loadEncoder } from './encoder.js';
import { type FeatureOps, featureOpsFrom } from './featureOps.js';
import { type TiledBackend } from './tiled/tiledBackend.js';
import { traceProgram } from './tiled/program.js';
import { runTiledProgram } from './tiled/tiledExecutor.js';
import { planTileGrid } from './tiled/tileGrid.js';

/** `AutoencoderKL` (`ldm/models/autoencoder.py`): encoder + quant_conv, post_quant_conv + decoder. */
export interface AutoencoderKL {
  readonly config: AutoencoderKLConfig;
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: Conv2d;
  readonly post_quant_conv: Conv2d;
  /** Latent scaling of the diffusion model (`scale_factor`), used by {@link encodeToLatent}/{@link decodeFromLatent}. */
  readonly scaleFactor: number;
  /** f = 2^(L−1): image sides must be multiples of it; the latent is f times smaller. */
  readonly downsamplingFactor: number;
}

export interface LoadAutoencoderOptions {
  /** Default 0.18215 (SD 1.x/2.x, StableSR). */
  scaleFactor?: number;
  /**
   * Reject keys under the view that the model does not use (default true). Training-only `loss.*`
   * tensors (LPIPS, discriminator) that some autoencoder checkpoints carry are always ignored.
   */
  strict?: boolean;
}

/** Throws naming the unexpected keys (the config does not fit the checkpoint). */
export function assertNoUnusedKeys(view: WeightView, what: string): void {
  const unused = view.unusedKeys().filter((k) => !k.startsWith('loss.'));
  if (unused.length) {
    const shown = unused.slice(0, 8).map((k) => view.prefix + k).join(', ');
    throw new WeightFileError(view.origin, `${unused.length} unexpected key(s) for ${what}: ${shown}${unused.length > 8 ? ', …' : ''} (the config does not fit this checkpoint)`);
  }
}

/** Builds the parts shared by the plain and the CFW autoencoder. */
export function loadAutoencoderParts(config: AutoencoderKLConfig, view: WeightView, numFuseBlock?: number): Omit<AutoencoderKL, 'scaleFactor' | 'downsamplingFactor'> {
  const dd = config.ddconfig;
  const zOut = dd.double_z ? 2 * dd.z_channels : dd.z_channels;
  // Inside tidy so that a load failing half-way (a key missing deep in the decoder) frees what it read.
  return tf.tidy(() => ({
    config,
    encoder: loadEncoder(view.scope('encoder.'), dd),
    decoder: loadDecoder(view.scope('decoder.'), dd, numFuseBlock),
    quant_conv: loadConv2d(view, 'quant_conv', zOut, 2 * config.embed_dim, 1),
    post_quant_conv: loadConv2d(view, 'post_quant_conv', config.embed_dim, dd.z_channels, 1),
  }) as unknown as tf.TensorContainer) as unknown as Omit<AutoencoderKL, 'scaleFactor' | 'downsamplingFactor'>;
}

/**
 * Loads an `AutoencoderKL` from a weight view scoped at the autoencoder: `first_stage_model.` for
 * StableSR / SD checkpoints, "" for a standalone autoencoder file (`encoder.*`, `decoder.*`,
 * `quant_conv.*`, `post_quant_conv.*`), or a diffusers `vae/` folder through {@link diffusersVaeView}.
 * Missing or mis-shaped tensors are {@link WeightFileError}s naming the key.
 */
export function loadAutoencoderKL(config: AutoencoderKLConfig, view: WeightView, opts: LoadAutoencoderOptions = {}): AutoencoderKL {
  const parts = loadAutoencoderParts(config, view);
  const vae: AutoencoderKL = { ...parts, scaleFactor: opts.scaleFactor ?? SD_SCALE_FACTOR, downsamplingFactor: downsamplingFactor(config.ddconfig) };
  if (opts.strict !== false) {
    try {
      assertNoUnusedKeys(view, 'AutoencoderKL');
    } catch (e) {
      disposeAutoencoderKL(vae);
      throw e;
    }
  }
  return vae;
}

/** Frees every weight tensor of the autoencoder. */
export function disposeAutoencoderKL(vae: AutoencoderKL): void {
  disposeModule(vae);
}

/** Checks the logical shape of an NHWC image batch against the encoder: rank, channels, sides multiple of f. */
export function checkImageShape(vae: AutoencoderKL, shape: readonly number[], what = 'image'): void {
  const dd = vae.config.ddconfig;
  const f = vae.downsamplingFactor;
  if (shape.length !== 4) throw new Error(`${what}: expected an NHWC tensor [B, H, W, ${dd.in_channels}], got shape [${shape}]`);
  const [, h, w, c] = shape as [number, number, number, number];
  if (c !== dd.in_channels) throw new Error(`${what}: expected ${dd.in_channels} channels (NHWC), got ${c} (shape [${shape}])`);
  if (h % f !== 0 || w % f !== 0) {
    throw new Error(`${what}: ${w}×${h} (W×H) is not a multiple of the downsampling factor ${f} = 2^(len(ch_mult)−1); pad or crop the image to ${Math.ceil(w / f) * f}×${Math.ceil(h / f) * f} or ${Math.floor(w / f) * f}×${Math.floor(h / f) * f}`);
  }
}

/** Checks the logical shape of an NHWC latent against the decoder (`embed_dim` channels). */
export function checkLatentShape(vae: AutoencoderKL, shape: readonly number[], what = 'latent'): void {
  const c = vae.config.embed_dim;
  if (shape.length !== 4) throw new Error(`${what}: expected an NHWC tensor [B, h, w, ${c}], got shape [${shape}]`);
  if (shape[3] !== c) throw new Error(`${what}: expected ${c} channels (embed_dim, NHWC), got ${shape[3]} (shape [${shape}])`);
}

/** {@link checkImageShape} of a tensor. */
export function checkImage(vae: AutoencoderKL, image: tf.Tensor, what = 'image'): asserts image is tf.Tensor4D {
  checkImageShape(vae, image.shape, what);
}

/** {@link checkLatentShape} of a tensor. */
export function checkLatent(vae: AutoencoderKL, z: tf.Tensor, what = 'latent'): asserts z is tf.Tensor4D {
  checkLatentShape(vae, z.shape, what);
}

/**
 * The encoding network on {@link FeatureOps}: `[moments, ...features]` with moments = quant_conv(encoder(x))
 * and the encoder features of `featureLevels` (CFW's `enc_fea`). Shared by every encode variant: untiled on
 * any engine ({@link encodeMomentsOps}) and traced for the tiled executor ({@link encodeMomentsTiled}).
 */
export function autoencoderEncodeForward<F>(ops: FeatureOps<F>, vae: AutoencoderKL, x: F, featureLevels: readonly number[] = []): F[] {
  const [h, ...features] = ops.scope(() => {
    const r = encoderForward(ops, vae.encoder, x, featureLevels);
    return [r.h, ...r.features];
  }, vae.encoder);
  const moments = ops.scope(() => ops.conv(vae.quant_conv, h!), vae.quant_conv);
  ops.release(h!);
  return [moments, ...features];
}

/**
 * The decoding network on {@link FeatureOps}: decoder(post_quant_conv(z)) of an **unscaled** latent, with the
 * CFW fusion of `Decoder_Mix` when `fusion` is given. Shared by every decode variant (see
 * {@link autoencoderEncodeForward}).
 */
export function autoencoderDecodeForward<F>(ops: FeatureOps<F>, vae: AutoencoderKL, z: F, fusion?: DecoderFusion<F>): F {
  const h = ops.scope(() => ops.conv(vae.post_quant_conv, z), vae.post_quant_conv);
  const image = ops.scope(() => decoderForward(ops, vae.decoder, h, fusion), vae.decoder);
  ops.release(h);
  return image;
}

/**
 * `AutoencoderKL.encode`'s network on any engine: moments = quant_conv(encoder(image)) `[B, H/f, W/f, 2·embed_dim]`
 * (mean channels first, then logvar) for an NHWC image in [−1, 1] with sides that are multiples of f. The
 * posterior is host math on the moments ({@link posteriorFromMoments}).
 */
export function encodeMomentsOps<T>(ops: Ops<T>, vae: AutoencoderKL, image: T): T {
  checkImageShape(vae, ops.shape(image));
  return autoencoderEncodeForward(featureOpsFrom(ops), vae, image)[0]!;
}

/** `AutoencoderKL.decode` on any engine: decoder(post_quant_conv(z)) of an **unscaled** NHWC latent, not clamped. */
export function decodeOps<T>(ops: Ops<T>, vae: AutoencoderKL, z: T): T {
  checkLatentShape(vae, ops.shape(z));
  return autoencoderDecodeForward(featureOpsFrom(ops), vae, z);
}

/** What {@link encode} returns. All NHWC, owned by the caller (see {@link disposeEncodeResult}). */
export interface EncodeResult {
  /** quant_conv(encoder(x)): `[B, h, w, 2·embed_dim]` (mean channels first, then logvar). */
  moments: tf.Tensor4D;
  mean: tf.Tensor4D;
  /** Clamped to [−30, 20]. */
  logvar: tf.Tensor4D;
  std: tf.Tensor4D;
  /**
   * `scaleFactor · sample`, the latent the diffusion model sees (`get_first_stage_encoding`):
   * sample = mean + std·ε with ε from `noise`, or the mean when no noise source is given.
   */
  latent: tf.Tensor4D;
}

export interface EncodeOptions {
  /** Source of the posterior draw (`use: 'posterior'`). Without it the latent is the posterior mode. */
  noise?: NoiseSource;
}

export interface TiledOptions {
  /**
   * Tile size: image pixels for encoding (rounded down to a multiple of f), latent pixels for decoding.
   * Results do not depend on it (up to float rounding); smaller tiles use less backend memory but
   * recompute more halo. Attention blocks (always the mid block, at latent resolution; others only with
   * `attn_resolutions`) need every position and run untiled on the whole feature map of their level.
   */
  tileSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Engine of the tiles: {@link tfjsTiledBackend} (default) or {@link onnxTiledBackend}. */
  backend?: TiledBackend;
}

/** Default tile sizes: 512 image pixels to encode, 64 latent pixels to decode. */
export const DEFAULT_ENCODE_TILE = 512;
export const DEFAULT_DECODE_TILE = 64;

/** The posterior and latent from moments (shared by every encode variant). */
export function posteriorFromMoments(moments: tf.Tensor4D, scaleFactor: number, noise?: NoiseSource): EncodeResult {
  const d: DiagonalGaussian = diagonalGaussian(moments);
  try {
    const sample = noise ? sampleDiagonalGaussian(d, noise) : d.mean.clone();
    const latent = tf.tidy(() => tf.mul(sample, scaleFactor) as tf.Tensor4D);
    sample.dispose();
    d.var.dispose();
    return { moments, mean: d.mean, logvar: d.logvar, std: d.std, latent };
  } catch (e) {
    disposeDiagonalGaussian(d);
    throw e;
  }
}

export function disposeEncodeResult(r: EncodeResult): void {
  for (const t of [r.moments, r.mean, r.logvar, r.std, r.latent]) t.dispose();
}

/** quant_conv(encoder(x)) for an NHWC image in [−1, 1] ({@link encodeMomentsOps} on tfjs). */
export function encodeMoments(vae: AutoencoderKL, image: tf.Tensor4D): tf.Tensor4D {
  return encodeMomentsOps(tfjsOps, vae, image) as tf.Tensor4D;
}

/**
 * `AutoencoderKL.encode` + posterior + latent scaling, untiled. `image` is NHWC in [−1, 1] with sides
 * that are multiples of {@link AutoencoderKL.downsamplingFactor}.
 */
export function encode(vae: AutoencoderKL, image: tf.Tensor4D, opts: EncodeOptions = {}): EncodeResult {
  return posteriorFromMoments(encodeMoments(vae, image), vae.scaleFactor, opts.noise);
}

/** `AutoencoderKL.decode` of an **unscaled** NHWC latent z: decoder(post_quant_conv(z)), not clamped ({@link decodeOps} on tfjs). */
export function decode(vae: AutoencoderKL, z: tf.Tensor4D): tf.Tensor4D {
  return decodeOps(tfjsOps, vae, z) as tf.Tensor4D;
}

/** Scaled latent of an image (`get_first_stage_encoding(encode_first_stage(x))`), untiled. */
export function encodeToLatent(vae: AutoencoderKL, image: tf.Tensor4D, opts: EncodeOptions = {}): tf.Tensor4D {
  return latentOnly(encode(vae, image, opts));
}

/** {@link encodeToLatent} computed tile by tile. */
export async function encodeToLatentTiled(vae: AutoencoderKL, image: tf.Tensor4D, opts: EncodeOptions & TiledOptions = {}): Promise<tf.Tensor4D> {
  return latentOnly(await encodeTiled(vae, image, opts));
}

function latentOnly(r: EncodeResult): tf.Tensor4D {
  for (const t of [r.moments, r.mean, r.logvar, r.std]) t.dispose();
  return r.latent;
}

/** Image from a scaled latent (`decode_first_stage`: decode(latent / scaleFactor)), untiled. */
export function decodeFromLatent(vae: AutoencoderKL, latent: tf.Tensor4D): tf.Tensor4D {
  checkLatent(vae, latent);
  return tf.tidy(() => decode(vae, tf.div(latent, vae.scaleFactor) as tf.Tensor4D));
}

/** {@link decodeFromLatent} computed tile by tile. */
export async function decodeFromLatentTiled(vae: AutoencoderKL, latent: tf.Tensor4D, opts: TiledOptions = {}): Promise<tf.Tensor4D> {
  checkLatent(vae, latent);
  const z = tf.tidy(() => tf.div(latent, vae.scaleFactor) as tf.Tensor4D);
  try {
    return await decodeTiled(vae, z, opts);
  } finally {
    z.dispose();
  }
}

/** Latent-grid tile size for encoding from an image-pixel tile size. */
export function encodeTileOnLatent(vae: AutoencoderKL, tileSize: number): number {
  if (!Number.isFinite(tileSize) || tileSize < 1) throw new Error(`tileSize must be a positive number of pixels, got ${tileSize}`);
  return Math.max(1, Math.floor(tileSize / vae.downsamplingFactor));
}

/**
 * Moments computed tile by tile, equal to {@link encodeMoments} up to float rounding (GroupNorm sees the
 * whole image's statistics; see `tiled/tiledExecutor.ts`). `featureLevels` additionally returns those
 * encoder levels' features (CFW).
 */
export async function encodeMomentsTiled(vae: AutoencoderKL, image: tf.Tensor4D, opts: TiledOptions = {}, featureLevels: readonly number[] = []): Promise<{ moments: tf.Tensor4D; features: tf.Tensor4D[] }> {
  checkImage(vae, image);
  const L = vae.config.ddconfig.ch_mult.length;
  const f = vae.downsamplingFactor;
  const grid = planTileGrid(image.shape[1] / f, image.shape[2] / f, encodeTileOnLatent(vae, opts.tileSize ?? DEFAULT_ENCODE_TILE));
  const program = traceProgram([{ channels: image.shape[3], shift: L - 1 }], (ops, [x]) => autoencoderEncodeForward(ops, vae, x!, featureLevels));
  const [moments, ...features] = await runTiledProgram(program, grid, [image], { ...opts, stage: 'encode' });
  return { moments: moments!, features };
}

/** {@link encode} computed tile by tile (bounded backend memory, same result). */
export async function encodeTiled(vae: AutoencoderKL, image: tf.Tensor4D, opts: EncodeOptions & TiledOptions = {}): Promise<EncodeResult> {
  const { moments } = await encodeMomentsTiled(vae, image, opts);
  return posteriorFromMoments(moments, vae.scaleFactor, opts.noise);
}

/** {@link decode} computed tile by tile (bounded backend memory, same result). */
export async function decodeTiled(vae: AutoencoderKL, z: tf.Tensor4D, opts: TiledOptions = {}): Promise<tf.Tensor4D> {
  checkLatent(vae, z);
  const grid = planTileGrid(z.shape[1], z.shape[2], opts.tileSize ?? DEFAULT_DECODE_TILE);
  const program = traceProgram([{ channels: z.shape[3], shift: 0 }], (ops, [x]) => [autoencoderDecodeForward(ops, vae, x!)]);
  const [image] = await runTiledProgram(program, grid, [z], { ...opts, stage: 'decode' });
  return image!;
}

import { type EngineInfo, encodeSafetensors, initBackend, writeFileAtomic, writeImage } from '@stablesr/core';
import { rmSync } from 'node:fs';
import type { CliIo } from '../cliIo.js';
import type { GenerateCliOptions } from '../generateOptions.js';
import { loadTextToLatent, type TextToLatentOptions } from '../generator.js';
import { describeEngine, startEngine } from '../options/engineOptions.js';
import { ProgressBar } from '../progressBar.js';
import { formatBytes, peakRssBytes } from '../resourceUsage.js';

export interface GenerateRunResult {
  command: 'generate';
  ok: true;
  backend: string;
  /** What ran the networks: engine, provider (ONNX Runtime device or tfjs backend) and threads. */
  engine: Pick<EngineInfo, 'engine' | 'provider' | 'threads'>;
  seconds: number;
  peakRssBytes: number;
  latentsOut: string;
  latentShape: number[];
  imageOut?: string;
  imageSize?: { width: number; height: number };
}

/** A float tensor as the CLI reads it (structural, so the CLI needs no tfjs import). */
export interface TensorLike {
  readonly shape: number[];
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
}

/** Latents NHWC `[B, h, w, C]` → NCHW Float32Array (the reference / safetensors layout). */
export async function nhwcToNchwData(t: TensorLike): Promise<{ shape: number[]; data: Float32Array }> {
  const [b, h, w, c] = t.shape as [number, number, number, number];
  const src = await t.data();
  const out = new Float32Array(src.length);
  for (let n = 0; n < b; n++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((n * c + k) * h + y) * w + x] = src[((n * h + y) * w + x) * c + k]!;
  return { shape: [b, c, h, w], data: out };
}

/**
 * Runs `stablesr generate`: text → latents (safetensors, tensor `latents`, NCHW float32, with the generation
 * settings as metadata) and optionally the decoded image. Both files are written atomically, and when one of
 * them cannot be written the other is removed again, so a failed run leaves neither behind.
 */
export async function generateCommand(opts: GenerateCliOptions, io: CliIo): Promise<number> {
  const t0 = performance.now();
  const backend = await initBackend(opts.backend);
  const engine = await startEngine(opts.engine);
  const bar = new ProgressBar(opts.quiet ? undefined : io.progress);
  const gen = await loadTextToLatent({
    checkpoint: opts.checkpoint,
    backend: backend.name,
    ...opts.engine,
    ...(opts.config !== undefined && { config: opts.config }),
    ...(opts.preset !== undefined && { preset: opts.preset }),
    ...(opts.textEncoder !== undefined && { textEncoder: opts.textEncoder }),
    ...(opts.tokenizer !== undefined && { tokenizer: opts.tokenizer }),
    ...(opts.vae !== undefined && { vae: opts.vae }),
    ...(opts.weights !== undefined && { weights: opts.weights }),
  });
  let result: Pick<GenerateRunResult, 'latentShape' | 'imageSize'>;
  try {
    const g: TextToLatentOptions = {
      prompt: opts.prompt,
      steps: opts.steps,
      guidanceScale: opts.guidance,
      width: opts.width,
      height: opts.height,
      sampler: opts.sampler,
      seed: opts.seed,
      decode: opts.imageOut !== undefined,
      onProgress: (ev) => bar.update(ev),
    };
    if (opts.negativePrompt !== undefined) g.negativePrompt = opts.negativePrompt;
    if (io.signal) g.signal = io.signal;
    const { latents, decoded, image } = await gen.generate(g);
    try {
      const nchw = await nhwcToNchwData(latents);
      const meta: Record<string, string> = {
        format: 'stablesr-latents',
        layout: 'NCHW',
        prompt: opts.prompt,
        negative_prompt: opts.negativePrompt ?? '',
        steps: String(opts.steps),
        guidance: String(opts.guidance),
        sampler: opts.sampler,
        seed: String(opts.seed),
        width: String(opts.width),
        height: String(opts.height),
        parameterization: gen.config.parameterization,
        // The latents are the sampler's output; the VAE decodes latents / scale_factor.
        scale_factor: String(gen.config.scale_factor),
      };
      const latentBytes = encodeSafetensors({ latents: { shape: nchw.shape, data: nchw.data } }, meta);
      result = { latentShape: nchw.shape };
      if (opts.imageOut) {
        if (!decoded) throw new Error('the generator returned no decoded image');
        // `decoded` is in [-1, 1], the convention writeImage expects (it clamps and quantises like the reference).
        await writeImage(opts.imageOut, decoded);
        result.imageSize = { width: decoded.shape[2], height: decoded.shape[1] };
      }
      try {
        await writeFileAtomic(opts.latentsOut, latentBytes);
      } catch (e) {
        if (opts.imageOut) rmSync(opts.imageOut, { force: true });
        throw new Error(`${opts.latentsOut}: cannot write the latents (${(e as Error).message})`);
      }
    } finally {
      latents.dispose();
      decoded?.dispose();
      image?.dispose();
    }
  } finally {
    bar.clear();
    gen.dispose();
  }
  const run: GenerateRunResult = { command: 'generate', ok: true, backend: backend.name, engine: { engine: engine.engine, provider: engine.provider, threads: engine.threads }, seconds: Math.round((performance.now() - t0) / 100) / 10, peakRssBytes: peakRssBytes(), latentsOut: opts.latentsOut, ...result };
  if (opts.imageOut) run.imageOut = opts.imageOut;
  if (opts.json) io.out(JSON.stringify(run, null, 2));
  else if (!opts.quiet) io.out(`wrote ${opts.latentsOut} (latents [${run.latentShape.join(', ')}])${run.imageOut ? ` and ${run.imageOut}` : ''} in ${run.seconds.toFixed(1)} s (${describeEngine(run.engine)}, peak memory ${formatBytes(run.peakRssBytes)})`);
  return 0;
}

// The released StableSR 512 model at its real sizes (preset `512`: U-Net 320 ch [1,2,4,4] + SPADE, time-aware
// encoder 256 ch [1,1,2,2], VAE / CFW 128 ch [1,2,4,4], OpenCLIP ViT-H text tower) with synthetic weights under
// the real key names and shapes (read off the loaders, then generated on demand by `syntheticSource`).
// Reports, on the active backend (wasm by default):
//   - what fits: parameters per module, tfjs bytes and wasm heap after loading them one after another;
//   - time of one forward of each network, and the time per SR step and per 512² → 2048² upscale derived
//     from them with the pipeline's own tile plans (labelled "derived").
// Every measurement runs in its own process (peak RSS and the wasm heap are its own; a heap that runs out
// does not poison the next one).
//   npm run bench -- realShapes                      quick (≈ 4 min): U-Net at the real 64×64 tile, VAE at 256² only
//   STABLESR_BENCH_FULL=1 npm run bench -- realShapes  every forward at the real 512² tile (≈ 15–25 min)
// STABLESR_BACKEND=cpu measures the cpu backend instead (slow: ~1.4 GFLOP/s for convolutions).
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import {
  type WeightView,
  imagePatchPlan,
  buildOnHost,
  initBackend,
  latentTilePlan,
  SeededNoise,
  syntheticSource,
  weightsFromSource,
} from '@stablesr/core';
import { disposeFrozenOpenClipEmbedder, disposeUNet, frozenOpenClipEncode, loadFrozenOpenClipEmbedder } from '@stablesr/unet';
import {
  cfwDecode,
  cfwEncode,
  decode,
  decodeTiled,
  disposeAutoencoderKL,
  disposeCfwAutoencoder,
  encodeMoments,
  encodeMomentsTiled,
  loadAutoencoderKL,
  loadCfwAutoencoder,
} from '@stablesr/vae';
import { canvasGeometry } from '../src/preprocess.js';
import { CFG, CFW_CFG, ENC_CFG, type Part, PARTS, SEMB, TEXT_CFG, UNET_CFG, VAE_CFG, shapesOf } from './releasedModel.js';
import { disposeTimeAwareEncoder, loadTimeAwareEncoder, timeAwareEncoderForward } from '../src/timeAwareEncoder.js';
import { loadStableSRUNet, stableSRUNetForward } from '../src/unetModelDualcondV2.js';

const FULL = !!process.env.STABLESR_BENCH_FULL;
const MiB = 2 ** 20;

const LABEL: Record<Part, string> = {
  unet: 'U-Net + SPADE (model.diffusion_model)',
  structcond: 'time-aware encoder (structcond_stage_model)',
  vae: 'first-stage VAE (first_stage_model)',
  cfw: 'CFW autoencoder (vqgan_cfw)',
  text: `OpenCLIP ViT-H text, ${CFG.cond_stage_config.layer} (cond_stage_model)`,
};

// ---------------------------------------------------------------- key lists and loading

/**
 * Records the parts' key lists on cpu, then switches to the measured backend. One synthetic file per part:
 * the CFW autoencoder is its own checkpoint (keys at the root), the others share the StableSR checkpoint's prefixes.
 */
async function syntheticViews(parts: Part[]): Promise<{ views: Partial<Record<Part, WeightView>>; params: Record<string, number>; backend: string }> {
  const measured = process.env.STABLESR_BACKEND ?? 'wasm';
  await initBackend('cpu');
  const views: Partial<Record<Part, WeightView>> = {};
  const params: Record<string, number> = {};
  for (const p of parts) {
    const shapes = await shapesOf(p);
    params[p] = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    views[p] = weightsFromSource(syntheticSource(shapes, { seed: 1, origin: `synthetic ${p}` }));
  }
  const info = await initBackend(measured as 'wasm' | 'cpu');
  return { views, params, backend: info.name };
}

/**
 * A view over `base` that hands out one tensor per (layout, shape): every layer of the same shape gets the same
 * weight (and bias) tensor. The network does exactly the same work, but the backend holds only the distinct
 * shapes — the wasm backend keeps a second, packed copy of every conv / matMul weight (XNNPACK operators
 * cached per weight tensor), so the real U-Net (3.5 GB) cannot run in its 4 GB heap; this is how its
 * full-depth forward is timed there. Strict-key checks pass through to `base` (`keys`, `has`, `shapeOf`).
 */
function sharedByShape(base: WeightView, cache = new Map<string, tf.Tensor>()): WeightView {
  const once = <T extends tf.Tensor>(kind: string, name: string, make: () => T): T => {
    const k = `${kind}:${base.shapeOf(name)?.join('x')}`;
    let t = cache.get(k);
    if (!t || t.isDisposed) cache.set(k, (t = tf.keep(make())));
    return t as T;
  };
  return {
    prefix: base.prefix,
    origin: base.origin,
    scope: (p) => sharedByShape(base.scope(p), cache),
    has: (n) => base.has(n),
    keys: () => base.keys(),
    shapeOf: (n) => base.shapeOf(n),
    get: (n, s) => once(n.endsWith('bias') ? 'bias' : 'get', n, () => base.get(n, s)),
    data: (n, s) => base.data(n, s),
    conv2d: (n, s) => once('conv2d', n, () => base.conv2d(n, s)),
    linear: (n, s) => once('linear', n, () => base.linear(n, s)),
    unusedKeys: () => [],
    assertAllUsed: () => {},
  };
}

type Loaded = { dispose(): void };

function loadPart(part: Part, root: WeightView): Loaded & Record<string, unknown> {
  switch (part) {
    case 'unet': {
      const m = loadStableSRUNet(UNET_CFG, root.scope('model.diffusion_model.'));
      return { m, dispose: () => disposeUNet(m) };
    }
    case 'structcond': {
      const m = loadTimeAwareEncoder(ENC_CFG, root.scope('structcond_stage_model.'));
      return { m, dispose: () => disposeTimeAwareEncoder(m) };
    }
    case 'vae': {
      const m = loadAutoencoderKL(VAE_CFG, root.scope('first_stage_model.'));
      return { m, dispose: () => disposeAutoencoderKL(m) };
    }
    case 'cfw': {
      const m = loadCfwAutoencoder(CFW_CFG, root);
      return { m, dispose: () => disposeCfwAutoencoder(m) };
    }
    case 'text': {
      const m = loadFrozenOpenClipEmbedder(TEXT_CFG, root.scope('cond_stage_model.'));
      return { m, dispose: () => disposeFrozenOpenClipEmbedder(m) };
    }
  }
}

/** The wasm module's linear memory (it only grows: after a run it is that run's peak), or undefined on other backends. */
function wasmHeapBytes(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength;
}

function memoryNow(): { tfMiB: number; heapMiB?: number; rssMiB: number } {
  const heap = wasmHeapBytes();
  return { tfMiB: tf.memory().numBytes / MiB, ...(heap !== undefined ? { heapMiB: heap / MiB } : {}), rssMiB: process.resourceUsage().maxRSS / 1024 };
}

const errLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

// ---------------------------------------------------------------- children

/** Loads `parts` one after another and reports memory after each (a failure ends the list). */
async function childFit(names: string[]): Promise<void> {
  const parts = names.map((n) => (n === 'unet-host' ? 'unet' : n) as Part);
  const { views, params, backend } = await syntheticViews(parts);
  const rows: unknown[] = [];
  const held: Loaded[] = [];
  for (const [i, p] of parts.entries()) {
    const t0 = performance.now();
    try {
      held.push(names[i] === 'unet-host' ? await buildOnHost(() => loadPart(p, views[p]!)) : loadPart(p, views[p]!));
      rows.push({ part: names[i], ok: true, params: params[p], seconds: (performance.now() - t0) / 1000, ...memoryNow() });
    } catch (e) {
      rows.push({ part: names[i], ok: false, params: params[p], error: errLine(e), ...memoryNow() });
      break;
    }
  }
  held.forEach((m) => m.dispose());
  console.log(JSON.stringify({ backend, rows }));
}

/** Times `fn` (after `warm` warm-up calls) and reports memory; the output is read back so that the work is done. */
async function timeIt(fn: () => Promise<tf.Tensor | tf.Tensor[]> | tf.Tensor | tf.Tensor[], reps: number, warm: number): Promise<{ seconds: number }> {
  const run = async () => {
    const out = await fn();
    const list = Array.isArray(out) ? out : [out];
    for (const t of list) t.dataSync();
    tf.dispose(list);
  };
  for (let i = 0; i < warm; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await run();
  return { seconds: (performance.now() - t0) / 1000 / reps };
}

function normals(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new SeededNoise(seed).normals(shape.reduce((a, b) => a * b, 1)), shape, 'float32');
}

/** One measured forward: `what` names it, `size` is the latent side (U-Net / encoder) or image side (VAE). */
async function childTime(what: string, size: number, reps: number, warm: number): Promise<void> {
  const onHost = what === 'unet-host';
  const part: Part = what.startsWith('unet') ? 'unet' : what.startsWith('structcond') ? 'structcond' : what.startsWith('cfw') ? 'cfw' : what.startsWith('text') ? 'text' : 'vae';
  const { views, backend } = await syntheticViews([part]);
  const t0 = performance.now();
  const view = what.endsWith('-shared') ? sharedByShape(views[part]!) : views[part]!;
  // unet-host: the weights stay in JS memory and go to the backend one layer at a time (what StableSR.load does on wasm).
  const loaded = onHost ? await buildOnHost(() => loadPart(part, view)) : loadPart(part, view);
  const loadSeconds = (performance.now() - t0) / 1000;
  const afterLoad = memoryNow();
  const inputs: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T) => (inputs.push(t), t);
  let fn: () => Promise<tf.Tensor | tf.Tensor[]> | tf.Tensor | tf.Tensor[];
  const f = 8; // VAE downsampling of the preset
  switch (what) {
    case 'unet':
    case 'unet-host':
    case 'unet-shared': {
      const x = keep(normals([1, size, size, 4], 2)) as tf.Tensor4D;
      const ctx = keep(normals([1, 77, UNET_CFG.context_dim as number], 3)) as tf.Tensor3D;
      // The time-aware encoder's output: one [1, s, s, semb] map per U-Net width.
      const sc = new Map<number, tf.Tensor4D>();
      for (let s = size, i = 0; i < UNET_CFG.channel_mult!.length; i++, s /= 2) sc.set(s, keep(normals([1, s, s, SEMB], 4 + i)) as tf.Tensor4D);
      fn = () => stableSRUNetForward(loaded.m as never, x, [500], ctx, sc);
      break;
    }
    case 'structcond': {
      const lr = keep(normals([1, size, size, 4], 2)) as tf.Tensor4D;
      fn = () => [...timeAwareEncoderForward(loaded.m as never, lr, [500]).values()];
      break;
    }
    case 'vae-decode':
    case 'vae-decode-tiled': {
      const z = keep(normals([1, size / f, size / f, 4], 2)) as tf.Tensor4D;
      // Tiled: 256-px tiles (32 latent) so that a 512² image is really split (the pipeline tiles above 512).
      fn = what === 'vae-decode' ? () => decode(loaded.m as never, z) : () => decodeTiled(loaded.m as never, z, { tileSize: 32 });
      break;
    }
    case 'vae-encode':
    case 'vae-encode-tiled': {
      const img = keep(tf.tanh(normals([1, size, size, 3], 2))) as tf.Tensor4D;
      fn =
        what === 'vae-encode'
          ? () => encodeMoments(loaded.m as never, img)
          : async () => {
              const r = await encodeMomentsTiled(loaded.m as never, img, { tileSize: 256 });
              return [r.moments, ...r.features];
            };
      break;
    }
    case 'cfw-encode': {
      const img = keep(tf.tanh(normals([1, size, size, 3], 2))) as tf.Tensor4D;
      fn = () => {
        const r = cfwEncode(loaded.m as never, img);
        return [r.posterior.moments, r.posterior.mean, r.posterior.std, r.posterior.logvar, r.posterior.latent, ...r.encFeatures];
      };
      break;
    }
    case 'cfw-decode': {
      const img = keep(tf.tanh(normals([1, size, size, 3], 2))) as tf.Tensor4D;
      const r = cfwEncode(loaded.m as never, img);
      tf.dispose([r.posterior.moments, r.posterior.logvar, r.posterior.latent, r.posterior.mean, r.posterior.std]);
      r.encFeatures.forEach((t) => keep(t));
      const z = keep(normals([1, size / f, size / f, 4], 3)) as tf.Tensor4D;
      fn = () => cfwDecode(loaded.m as never, z, r.encFeatures, 0.5);
      break;
    }
    case 'text': {
      const ids = keep(tf.tensor2d(Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 12 ? 320 + i * 17 : 49407)), [1, 77], 'int32'));
      fn = () => frozenOpenClipEncode(loaded.m as never, ids as tf.Tensor2D);
      break;
    }
    default:
      throw new Error(`unknown measurement ${what}`);
  }
  let res: Record<string, unknown>;
  try {
    res = { ok: true, ...(await timeIt(fn, reps, warm)) };
  } catch (e) {
    res = { ok: false, error: errLine(e) };
  }
  tf.dispose(inputs);
  loaded.dispose();
  console.log(JSON.stringify({ what, size, backend, loadSeconds, weightsMiB: afterLoad.tfMiB, heapAfterLoadMiB: afterLoad.heapMiB, ...res, peak: memoryNow() }));
}

// ---------------------------------------------------------------- parent

function spawnChild(args: string[], timeoutMin = 25): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { encoding: 'utf8', timeout: timeoutMin * 60 * 1000, maxBuffer: 64 * MiB });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    const tail = (r.stderr || r.stdout || '').trim().split('\n').filter((l) => l.trim()).slice(-2).join(' | ');
    return { ok: false, error: `process ended ${r.status ?? r.signal}: ${tail.slice(0, 240)}` };
  }
}

const f1 = (x: unknown) => (typeof x === 'number' ? x.toFixed(x < 10 ? 2 : 1) : '-');
const mib = (x: unknown) => (typeof x === 'number' ? `${x.toFixed(0)} MiB` : '-');

function main(): void {
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`StableSR 512 preset, synthetic weights, backend ${process.env.STABLESR_BACKEND ?? 'wasm'}, ${FULL ? 'FULL' : 'quick (STABLESR_BENCH_FULL=1 adds the untiled 512² VAE / CFW)'}; load average ${load()}`);

  // 1. What fits: each part alone, then all parts together (U-Net first).
  console.log('\n### memory: loading the modules (tfjs bytes after load; wasm heap = linear memory, max 4096 MiB)');
  const single = FULL ? PARTS : (['structcond', 'vae', 'cfw'] as Part[]);
  const fits: Record<string, Record<string, unknown>> = {};
  for (const p of single) fits[p] = spawnChild(['fit', p]);
  const together = spawnChild(['fit', ...PARTS]);
  const withHostUNet = spawnChild(['fit', 'unet-host', ...PARTS.filter((p) => p !== 'unet')]);
  console.log('module                                            params     weights        heap          peak RSS   load s');
  for (const p of single) {
    const row = ((fits[p]!.rows as Record<string, unknown>[] | undefined) ?? [fits[p]!])[0]!;
    console.log(
      `${LABEL[p].padEnd(48)} ${f1((row.params as number) / 1e6).padStart(6)} M ${row.ok ? `${mib(row.tfMiB).padStart(10)} ${mib(row.heapMiB).padStart(12)} ${mib(row.rssMiB).padStart(12)}  ${f1(row.seconds).padStart(6)}` : `FAILED: ${row.error}`}`,
    );
  }
  for (const [title, result] of [
    ['cumulative, in one process, every weight on the backend:', together],
    ['cumulative, in one process, U-Net weights on the host, the rest on the backend:', withHostUNet],
  ] as const) {
    console.log(`\n${title}`);
    for (const row of (result.rows as Record<string, unknown>[] | undefined) ?? [result]) {
      console.log(`  + ${String(row.part ?? '?').padEnd(11)} ${row.ok ? `tfjs ${mib(row.tfMiB)}, heap ${mib(row.heapMiB)}, RSS ${mib(row.rssMiB)}` : `FAILED: ${row.error} (tfjs ${mib(row.tfMiB)}, heap ${mib(row.heapMiB)})`}`);
    }
  }

  // 2. Time of one forward each.
  console.log(`\n### time of one forward (measured; load average ${load()})`);
  // The real tile (64×64 latent = 512² pixels): the U-Net's cost is not proportional to area at small sizes
  // (weight upload and packing are per call), so nothing is extrapolated from smaller latents.
  const L = 64;
  const runs: [string, number, number, number][] = [
    // [what, size, reps, warm-ups]
    // The whole U-Net does not fit the 4 GiB wasm heap with its weights on the backend (packed copies included).
    [process.env.STABLESR_BACKEND && process.env.STABLESR_BACKEND !== 'wasm' ? 'unet' : 'unet-host', L, 1, 0],
    ['structcond', L, FULL ? 2 : 2, 1],
    ['text', 77, FULL ? 2 : 1, 1],
    ['vae-decode-tiled', FULL ? 512 : 256, 1, FULL ? 1 : 0],
    ['vae-encode-tiled', FULL ? 512 : 256, 1, FULL ? 1 : 0],
  ];
  if (FULL) runs.push(['vae-decode', 512, 1, 1], ['vae-encode', 512, 1, 1], ['cfw-encode', 512, 1, 1], ['cfw-decode', 512, 1, 1]);
  const times: Record<string, number> = {};
  console.log('network (input)                                   seconds   weights      heap peak    peak RSS');
  for (const [what, size, reps, warm] of runs) {
    const r = spawnChild(['time', what, String(size), String(reps), String(warm)]);
    const peak = (r.peak ?? {}) as Record<string, unknown>;
    const label = `${what} (${what === 'text' ? '1 prompt × 77 tokens' : what.startsWith('unet') || what.startsWith('structcond') ? `latent ${size}×${size}` : `image ${size}×${size}`})`;
    if (r.ok) times[`${what}@${size}`] = r.seconds as number;
    console.log(
      `${label.padEnd(48)} ${r.ok ? f1(r.seconds).padStart(8) : 'FAILED'}  ${mib(r.weightsMiB).padStart(9)} ${mib(peak.heapMiB).padStart(12)} ${mib(peak.rssMiB).padStart(11)}${r.ok ? '' : `  ${r.error}`}`,
    );
  }

  // 3. Derived: pipeline cost from the measured forwards and the pipeline's own tile plans.
  const unet = times[`unet@${L}`] ?? times[`unet-host@${L}`];
  const enc = times[`structcond@${L}`];
  if (unet === undefined || enc === undefined) return;
  console.log('\n### derived (not measured): sampling cost from the measured forwards and the pipeline\'s own tile plans');
  const perTile = unet + enc;
  console.log(`one 64×64 latent tile (U-Net + time-aware encoder): ${f1(perTile)} s`);
  const vae = ['vae-encode', 'cfw-encode', 'cfw-decode'].map((w) => times[`${w}@512`]);
  for (const side of [128, 256, 512]) {
    const g = canvasGeometry(side, side, CFG.image_size, 4);
    const patches = imagePatchPlan(g.oriH + g.padH, g.oriW + g.padW);
    const tilesPerStep = patches.reduce((a, p) => a + latentTilePlan(p.h / 8, p.w / 8, 64, 32).length, 0);
    const perStep = tilesPerStep * perTile;
    const pxPerPatch = patches[0]!.h * patches[0]!.w;
    const vaeSec = vae.every((x) => x !== undefined) ? (vae as number[]).reduce((a, b) => a + b, 0) * ((patches.length * pxPerPatch) / (512 * 512)) : undefined;
    const cost = (steps: number) => {
      const sec = steps * perStep + (vaeSec ?? 0);
      return `${sec >= 5400 ? `${f1(sec / 3600)} h` : `${f1(sec / 60)} min`}`;
    };
    console.log(
      `${side}² → ${side * 4}²: ${patches.length} patch(es) of ${patches[0]!.h}², ${tilesPerStep} tile(s) per step → ${f1(perStep)} s per step; DDPM 200 steps ${cost(200)}, DDIM 50 steps ${cost(50)}, DDIM 20 steps ${cost(20)}${vaeSec === undefined ? ' (VAE/CFW not included: FULL only)' : ` (VAE + CFW ≈ ${f1(vaeSec)} s included)`}`,
    );
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'fit') await childFit(rest);
else if (mode === 'time') await childTime(rest[0]!, Number(rest[1]), Number(rest[2] ?? 1), Number(rest[3] ?? 1));
else main();

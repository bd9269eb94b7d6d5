// Every network of the released StableSR 512 model (preset `512`, synthetic weights of the real key names and
// shapes) on each engine, side by side in one run: one forward each, seconds, GFLOP/s and the fraction of this
// machine's fp32 peak. Each (network, engine) pair runs in its own process, so its peak RSS is its own.
//   npm run bench -- engines                         U-Net + SPADE at the real 64×64 tile, time-aware encoder, VAE decode
//                                                     of a 512² image, text tower; onnxruntime and tfjs (≈ 6 min)
//   STABLESR_BENCH_ENGINES=onnxruntime npm run bench -- engines     one engine only
//   STABLESR_BENCH_PARTS=unet,vae …                                 some networks only
// FLOPs are counted by running each forward through a counting interpreter of the op interface (conv, linear and
// attention matrix products, 2 FLOP per multiply-add), so the count is of the network that runs, not an estimate.
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import {
  type EngineName,
  type Ops,
  type WeightView,
  SeededNoise,
  buildOnHost,
  compileNetwork,
  initBackend,
  resolveEngine,
  syntheticSource,
  weightsFromSource,
} from '@stablesr/core';
import { disposeFrozenOpenClipEmbedder, loadFrozenOpenClipEmbedder, openClipTextForwardOps, timestepEmbedding, unetForwardOps } from '@stablesr/unet';
import { disposeAutoencoderKL, loadAutoencoderKL, vaeDecoderNetwork } from '@stablesr/vae';
import { ENC_CFG, type Part, SEMB, TEXT_CFG, UNET_CFG, VAE_CFG, shapesOf } from './releasedModel.js';
import { disposeTimeAwareEncoder, loadTimeAwareEncoder, timeAwareEncoderForwardOps } from '../src/timeAwareEncoder.js';
import { loadStableSRUNet } from '../src/unetModelDualcondV2.js';
import { disposeUNet } from '@stablesr/unet';

/**
 * fp32 peak of this machine: cores × clock × FP32 FLOP per cycle and core. Intel server cores with AVX-512 have two
 * 512-bit FMA units (64 FLOP/cycle); AMD Zen 4 runs AVX-512 on two 256-bit units (32), as AVX2-only cores do.
 */
function peakGflops(): { gflops: number; how: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
  const amd = /AuthenticAMD/.test(info);
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? 2600);
  const perCycle = / avx512f/.test(flags) && !amd ? 64 : 32;
  const gflops = (cpus().length * (mhz / 1000) * perCycle);
  return { gflops, how: `${cpus().length} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} FLOP/cycle` };
}
const PEAK = peakGflops();
const PEAK_GFLOPS = PEAK.gflops;
type Net = 'unet' | 'structcond' | 'vae' | 'text';
/** A value of the counting interpreter: its logical shape (boxed: the forwards tell lists of values from values by Array.isArray). */
interface Shape {
  readonly s: readonly number[];
}
const LABEL: Record<Net, string> = {
  unet: 'U-Net + SPADE, 64×64 latent (one 512² tile)',
  structcond: 'time-aware encoder, 64×64 latent',
  vae: 'VAE decode, 64×64 latent → 512² image',
  text: 'OpenCLIP ViT-H text tower, 77 tokens',
};

/** A shape-only interpreter of the op interface that adds up multiply-adds of convs, linears and attention. */
function flopCounter(): { ops: Ops<Shape>; flops: () => number } {
  let flops = 0;
  const v = (s: readonly number[]): Shape => ({ s });
  const same = (x: Shape) => v(x.s);
  const last = (x: Shape, c: number) => v([...x.s.slice(0, -1), c]);
  const ops: Ops<Shape> = {
    engine: 'onnx',
    shape: (x) => x.s,
    weight: (t) => v(t.shape),
    conv2d: (c, { s: [b, h, w] }) => {
      const pad = typeof c.padding === 'number' ? [c.padding, c.padding, c.padding, c.padding] : [c.padding[0][0], c.padding[0][1], c.padding[1][0], c.padding[1][1]];
      const oh = Math.floor((h! + pad[0]! + pad[1]! - c.dilation * (c.kernelSize - 1) - 1) / c.stride) + 1;
      const ow = Math.floor((w! + pad[2]! + pad[3]! - c.dilation * (c.kernelSize - 1) - 1) / c.stride) + 1;
      flops += 2 * b! * oh * ow * c.outChannels * c.inChannels * c.kernelSize ** 2;
      return v([b!, oh, ow, c.outChannels]);
    },
    groupNorm: (_, x) => same(x),
    upsampleNearest2x: ({ s: [b, h, w, c] }) => v([b!, 2 * h!, 2 * w!, c!]),
    resizeNearest: ({ s: [b, , , c] }, h, w) => v([b!, h, w, c!]),
    avgPool2x: ({ s: [b, h, w, c] }) => v([b!, Math.floor(h! / 2), Math.floor(w! / 2), c!]),
    spaceToDepth: ({ s: [b, h, w, c] }, r) => v([b!, h! / r, w! / r, c! * r * r]),
    depthToSpace: ({ s: [b, h, w, c] }, r) => v([b!, h! * r, w! * r, c! / (r * r)]),
    reflectPad: ({ s: [b, h, w, c] }, [[t, bo], [l, r]]) => v([b!, h! + t + bo, w! + l + r, c!]),
    crop: ({ s: [b, , , c] }, _top, _left, h, w) => v([b!, h, w, c!]),
    toTokens: ({ s: [b, h, w, c] }) => v([b!, h! * w!, c!]),
    fromTokens: ({ s: [b, , c] }, h, w) => v([b!, h, w, c!]),
    linear: (l, x) => {
      flops += 2 * (x.s.reduce((a, d) => a * d, 1) / l.inFeatures) * l.inFeatures * l.outFeatures;
      return last(x, l.outFeatures);
    },
    layerNorm: (_, x) => same(x),
    attention: ({ s: [b, nq, c] }, { s: [, nk] }, { s: [, , cv] }) => {
      flops += 2 * b! * nq! * nk! * (c! + cv!);
      return v([b!, nq!, cv!]);
    },
    linearAttention: ({ s: [b, n, c] }, _k, { s: [, , cv] }, o) => {
      flops += 2 * b! * n! * (c! / o.heads) * cv! * 2;
      return v([b!, n!, cv!]);
    },
    embedding: (t, ids) => v([...ids.s, t.shape[1]!]),
    add: same,
    sub: same,
    mul: same,
    scale: same,
    addScalar: same,
    addVector: same,
    mulVector: same,
    silu: same,
    gelu: same,
    quickGelu: same,
    relu: same,
    leakyRelu: same,
    concat: (xs) => last(xs[0]!, xs.reduce((a, x) => a + x.s[x.s.length - 1]!, 0)),
    split: (x, parts) => Array.from({ length: parts }, () => last(x, x.s[x.s.length - 1]! / parts)),
    scope: (fn) => fn(),
    release: () => {},
  };
  return { ops, flops: () => flops };
}

function normals(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new SeededNoise(seed).normals(shape.reduce((a, b) => a * b, 1)), shape, 'float32');
}

/** Synthetic weights of a part. Its key list is recorded on the cpu backend (the recording loaders make zeros of the
 * full size, which would stay in the wasm heap: it never shrinks), then the measured backend is active again. */
async function view(part: Part): Promise<WeightView> {
  const backend = (await initBackend()).name;
  await initBackend('cpu');
  const shapes = await shapesOf(part);
  await initBackend(backend);
  return weightsFromSource(syntheticSource(shapes, { seed: 1, origin: `synthetic ${part}` }));
}

interface Prepared {
  module: object;
  onnxOptimization?: 'all' | 'extended';
  uploadWhole: boolean;
  inputs: tf.Tensor[];
  dtypes?: ('float32' | 'int32')[];
  forward<T>(ops: Ops<T>, inputs: readonly T[]): readonly T[];
  dispose(): void;
}

/** The network and its inputs, its weights on the host (as StableSR.load keeps them for onnxruntime and on wasm). */
async function prepare(net: Net): Promise<Prepared> {
  const lat = [1, 64, 64, 4];
  switch (net) {
    case 'unet': {
      const v = await view('unet');
      const unet = await buildOnHost(() => loadStableSRUNet(UNET_CFG, v.scope('model.diffusion_model.')));
      const widths = [64, 32, 16, 8];
      const inputs = [normals(lat, 1), timestepEmbedding([500], UNET_CFG.model_channels), normals([1, 77, 1024], 2), ...widths.map((w, i) => normals([1, w, w, SEMB], 3 + i))];
      return {
        module: unet,
        onnxOptimization: 'extended', // as compileUNet
        uploadWhole: false,
        inputs,
        forward: (ops, [x, t, c, ...maps]) => [unetForwardOps(ops, unet, x!, t!, c!, new Map(maps.map((m) => [ops.shape(m)[2]!, m])))],
        dispose: () => disposeUNet(unet),
      };
    }
    case 'structcond': {
      const v = await view('structcond');
      const enc = await buildOnHost(() => loadTimeAwareEncoder(ENC_CFG, v.scope('structcond_stage_model.')));
      return {
        module: enc,
        uploadWhole: true,
        inputs: [normals(lat, 1), timestepEmbedding([500], ENC_CFG.model_channels)],
        forward: (ops, [x, t]) => [...timeAwareEncoderForwardOps(ops, enc, x!, t!).values()],
        dispose: () => disposeTimeAwareEncoder(enc),
      };
    }
    case 'vae': {
      const v = await view('vae');
      const vae = await buildOnHost(() => loadAutoencoderKL(VAE_CFG, v.scope('first_stage_model.'), { strict: false }));
      const def = vaeDecoderNetwork(vae);
      return { module: vae, uploadWhole: true, inputs: [normals(lat, 1)], forward: (ops, inputs) => def.forward(ops, inputs), dispose: () => disposeAutoencoderKL(vae) };
    }
    case 'text': {
      const v = await view('text');
      const tower = await buildOnHost(() => loadFrozenOpenClipEmbedder(TEXT_CFG, v.scope('cond_stage_model.')));
      const ids = new Int32Array(77);
      ids[0] = 49406;
      ids[1] = 320;
      ids[2] = 49407;
      return {
        module: tower,
        uploadWhole: false,
        inputs: [tf.tensor2d(ids, [1, 77], 'int32')],
        dtypes: ['int32'],
        forward: (ops, [x]) => [openClipTextForwardOps(ops, tower, x!)],
        dispose: () => disposeFrozenOpenClipEmbedder(tower),
      };
    }
  }
}

/** Child: one network on one engine; prints a JSON row. */
async function child(net: Net, engineName: EngineName): Promise<void> {
  const backend = await initBackend('wasm');
  const engine = await resolveEngine({ engine: engineName });
  const p = await prepare(net);
  const counter = flopCounter();
  p.forward(counter.ops, p.inputs.map((t) => ({ s: t.shape })));
  const compiled = compileNetwork(
    { name: LABEL[net], module: p.module, uploadWhole: p.uploadWhole, ...(p.dtypes ? { dtypes: p.dtypes } : {}), ...(p.onnxOptimization ? { onnxOptimization: p.onnxOptimization } : {}), forward: p.forward },
    engine,
  );
  const run = async (): Promise<number> => {
    const t0 = performance.now();
    const out = await compiled.run(p.inputs);
    for (const t of out) t.dataSync();
    tf.dispose(out);
    return (performance.now() - t0) / 1000;
  };
  // The first call builds the engine session (ONNX graph + ORT session). ONNX Runtime's second call is still
  // warming up (arena growth: the encoder's took 2.1 s, its third 0.7 s), so it gets one more; then the median of
  // three timed calls (one for tfjs, whose forwards take minutes and do not warm up).
  const gflop = counter.flops() / 1e9;
  const first = await run();
  if (engine.engine === 'onnxruntime') await run();
  const times: number[] = [];
  for (let i = 0; i < (engine.engine === 'onnxruntime' ? 3 : 1); i++) times.push(await run());
  const seconds = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(
    JSON.stringify({
      net,
      engine: engine.engine === 'onnxruntime' ? `onnxruntime ${engine.provider} ×${engine.threads}` : `tfjs ${backend.name}`,
      firstCallSeconds: first,
      buildSeconds: compiled.buildSeconds,
      seconds,
      gflop,
      gflops: gflop / seconds,
      peakFraction: gflop / seconds / PEAK_GFLOPS,
      peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20,
    }),
  );
  await compiled.dispose();
  p.dispose();
  tf.dispose(p.inputs);
}

const [, , role, netArg, engineArg] = process.argv;
if (role === 'child') {
  await child(netArg as Net, engineArg as EngineName);
} else {
  const engines = (process.env.STABLESR_BENCH_ENGINES ?? 'onnxruntime,tfjs').split(',') as EngineName[];
  const nets = (process.env.STABLESR_BENCH_PARTS ?? 'unet,structcond,vae,text').split(',') as Net[];
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, fp32 peak ${PEAK_GFLOPS.toFixed(0)} GFLOP/s (${PEAK.how})`);
  console.log('| network | engine | GFLOP | s / forward | GFLOP/s | of peak | 1st call (incl. build) s | peak RSS GiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  const rows: Record<string, Record<string, number>> = {};
  for (const net of nets) {
    for (const e of engines) {
      const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, 'child', net, e], { encoding: 'utf8', maxBuffer: 2 ** 24 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) {
        console.log(`| ${LABEL[net]} | ${e} | failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]} |`);
        continue;
      }
      const j = JSON.parse(line);
      (rows[net] ??= {})[e] = j.seconds;
      console.log(`| ${LABEL[net]} | ${j.engine} | ${j.gflop.toFixed(1)} | ${j.seconds.toFixed(2)} | ${j.gflops.toFixed(0)} | ${(100 * j.peakFraction).toFixed(0)} % | ${j.firstCallSeconds.toFixed(1)} | ${j.peakRssGiB.toFixed(2)} |`);
    }
    const r = rows[net];
    if (r?.tfjs && r.onnxruntime) console.log(`|  | tfjs / onnxruntime | | ${(r.tfjs / r.onnxruntime).toFixed(1)}× | | | | |`);
  }
}

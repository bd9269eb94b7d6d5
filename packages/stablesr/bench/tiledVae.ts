// The seam-free tiled VAE decode of the released StableSR 512 model (synthetic weights of the real shapes) on each
// engine, side by side, against the untiled decode of the same latent: seconds per decode after the first call (which
// builds the sessions), and the largest difference to the untiled output. Each row runs in its own process (own RSS).
//   npm run bench -- tiledVae                       64² latent → 512² image in 4 tiles of 32 (both engines, ≈ 6 min),
//                                                   then 128² → 1024² in 4 tiles of 64 on onnxruntime, tiled vs untiled
//   STABLESR_BENCH_ENGINES=onnxruntime …            one engine only
//   STABLESR_BENCH_LATENTS=128 …                     some latent sizes only
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { type EngineName, SeededNoise, buildOnHost, compileNetwork, initBackend, resolveEngine, syntheticSource, weightsFromSource } from '@stablesr/core';
import { decodeTiled, disposeAutoencoderKL, loadAutoencoderKL, onnxTiledBackend, vaeDecoderNetwork } from '@stablesr/vae';
import { VAE_CFG, shapesOf } from './releasedModel.js';

interface Row {
  latent: number;
  tile: number | null;
  engine: EngineName;
}

async function child(row: Row): Promise<void> {
  const backendName = (await initBackend()).name;
  await initBackend('cpu');
  const shapes = await shapesOf('vae');
  await initBackend(backendName);
  const view = weightsFromSource(syntheticSource(shapes, { seed: 1, origin: 'synthetic vae' }));
  const vae = await buildOnHost(() => loadAutoencoderKL(VAE_CFG, view.scope('first_stage_model.'), { strict: false }));
  const engine = await resolveEngine({ engine: row.engine });
  const z = tf.tensor4d(new SeededNoise(7).normals(row.latent * row.latent * 4), [1, row.latent, row.latent, 4]);
  const tiledBackend = row.tile !== null && engine.engine === 'onnxruntime' ? onnxTiledBackend('VAE tiled', engine) : undefined;
  const untiled = compileNetwork(vaeDecoderNetwork(vae), engine);
  const decodeOnce = async (): Promise<tf.Tensor> => {
    if (row.tile === null) return (await untiled.run([z]))[0]!;
    if (tiledBackend) return decodeTiled(vae, z, { tileSize: row.tile, backend: tiledBackend });
    const { withWeightsAsync } = await import('@stablesr/core');
    return withWeightsAsync(vae, () => decodeTiled(vae, z, { tileSize: row.tile! }));
  };
  const timed = async (): Promise<{ s: number; out: tf.Tensor }> => {
    const t0 = performance.now();
    const out = await decodeOnce();
    out.dataSync();
    return { s: (performance.now() - t0) / 1000, out };
  };
  const first = await timed();
  // tfjs forwards take minutes and do not warm up: one call; ONNX Runtime: the second call.
  const second = engine.engine === 'onnxruntime' ? await timed() : first;
  if (second !== first) first.out.dispose();
  console.log(JSON.stringify({ firstCallSeconds: first.s, seconds: second.s, peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20, engine: `${engine.engine} ${engine.provider}`, checksum: Array.from((second.out.dataSync() as Float32Array).subarray(0, 4096)) }));
  second.out.dispose();
  await tiledBackend?.dispose();
  await untiled.dispose();
  disposeAutoencoderKL(vae);
}

const [, , role, spec] = process.argv;
if (role === 'child') {
  await child(JSON.parse(spec!) as Row);
} else {
  const engines = (process.env.STABLESR_BENCH_ENGINES ?? 'onnxruntime,tfjs').split(',') as EngineName[];
  const rows: Row[] = [
    ...engines.flatMap((engine) => [
      { latent: 64, tile: null, engine },
      { latent: 64, tile: 32, engine },
    ]),
    ...(engines.includes('onnxruntime')
      ? [
          { latent: 128, tile: null, engine: 'onnxruntime' as const },
          { latent: 128, tile: 64, engine: 'onnxruntime' as const },
        ]
      : []),
  ];
  const latents = process.env.STABLESR_BENCH_LATENTS?.split(',').map(Number);
  const selected = latents ? rows.filter((r) => latents.includes(r.latent)) : rows;
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average before: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| decode | engine | tiles | s / decode | 1st call (incl. build) s | peak RSS GiB | max abs diff to untiled (first 4096 values) |');
  console.log('|---|---|---|---|---|---|---|');
  const untiledOf = new Map<string, number[]>();
  for (const row of selected) {
    const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, 'child', JSON.stringify(row)], { encoding: 'utf8', maxBuffer: 2 ** 26 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    const what = `${row.latent}² latent → ${row.latent * 8}²`;
    const tiles = row.tile === null ? 'untiled' : `${(row.latent / row.tile) ** 2} of ${row.tile}²`;
    if (!line) {
      console.log(`| ${what} | ${row.engine} | ${tiles} | failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]} |`);
      continue;
    }
    const j = JSON.parse(line) as { firstCallSeconds: number; seconds: number; peakRssGiB: number; engine: string; checksum: number[] };
    const key = `${row.latent}/${row.engine}`;
    if (row.tile === null) untiledOf.set(key, j.checksum);
    const ref = untiledOf.get(key);
    const diff = ref ? Math.max(...j.checksum.map((v, i) => Math.abs(v - ref[i]!))) : NaN;
    console.log(`| ${what} | ${j.engine} | ${tiles} | ${j.seconds.toFixed(2)} | ${j.firstCallSeconds.toFixed(1)} | ${j.peakRssGiB.toFixed(2)} | ${row.tile === null ? '—' : diff.toExponential(1)} |`);
  }
}

// Peak memory of decoding tiled vs untiled, with the public fixtures' tiny autoencoder shape
// (ch 32, ch_mult [1,1,1,1]) and synthetic weights: 1024×1024 both ways, and 2048×2048 tiled.
// Untiled 2048×2048 runs the 4 GB wasm heap out after ~4 minutes (measured: "memory access out of
// bounds", peak RSS 4 GB), so it only runs with STABLESR_BENCH_FULL=1.
// Each run is its own process so that its peak RSS is its own.
//   npm run bench -- tiledDecode
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { initBackend } from '@stablesr/core';
import { type AutoencoderKLConfig, decode, decodeTiled, disposeAutoencoderKL, loadAutoencoderKL } from '../src/index.js';
import { randomTensor, recordKeys, syntheticWeights } from '../test/helpers.js';

const CONFIG: AutoencoderKLConfig = {
  embed_dim: 4,
  ddconfig: { double_z: true, z_channels: 4, resolution: 64, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, attn_resolutions: [] },
};
const TILE = 32; // latent pixels (256 image pixels)
const MB = 1024 * 1024;

async function child(mode: 'tiled' | 'untiled', size: number): Promise<void> {
  const backend = await initBackend();
  const vae = loadAutoencoderKL(CONFIG, syntheticWeights(recordKeys((v) => loadAutoencoderKL(CONFIG, v, { strict: false }), disposeAutoencoderKL), 1));
  const f = vae.downsamplingFactor;
  const z = randomTensor([1, size / f, size / f, 4], 2);
  const t0 = performance.now();
  let result: Record<string, unknown>;
  try {
    const info = await tf.profile(async () => {
      const img = mode === 'tiled' ? await decodeTiled(vae, z, { tileSize: TILE }) : decode(vae, z);
      img.dispose();
      return [];
    });
    result = { ok: true, peakTensorMB: info.peakBytes / MB };
  } catch (e) {
    result = { ok: false, error: (e as Error).message.split('\n')[0] };
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.maxRssMB = process.resourceUsage().maxRSS / 1024;
  result.backend = backend.name;
  console.log(JSON.stringify(result));
}

function main(): void {
  console.log(`ch 32, ch_mult [1,1,1,1]; tiles of ${TILE} latent pixels (${TILE * 8} image pixels)`);
  const runs: [number, 'tiled' | 'untiled'][] = [
    [1024, 'tiled'],
    [1024, 'untiled'],
    [2048, 'tiled'],
  ];
  if (process.env.STABLESR_BENCH_FULL) runs.push([2048, 'untiled']);
  for (const [size, mode] of runs) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, mode, String(size)], { encoding: 'utf8', timeout: 10 * 60 * 1000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let res: { ok?: boolean; peakTensorMB?: number; seconds?: number; maxRssMB?: number; error?: string; backend?: string };
    try {
      res = JSON.parse(line);
    } catch {
      res = { ok: false, error: `process exited ${r.status ?? r.signal}: ${(r.stderr || line).trim().split('\n').slice(-2).join(' ')}` };
    }
    const status = res.ok ? `peak tensors ${res.peakTensorMB!.toFixed(0)} MB` : `FAILED (${res.error})`;
    const rss = res.maxRssMB !== undefined ? `, peak RSS ${res.maxRssMB.toFixed(0)} MB` : '';
    const time = res.seconds !== undefined ? `, ${res.seconds.toFixed(1)} s` : '';
    console.log(`decode ${size}×${size} ${mode.padEnd(8)} ${status}${rss}${time}${res.backend ? ` [${res.backend}]` : ''}`);
  }
}

const mode = process.argv[2];
if (mode === 'tiled' || mode === 'untiled') await child(mode, Number(process.argv[3]));
else main();

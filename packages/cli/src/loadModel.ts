import { initBackend } from '@stablesr/core';
import { verifiedDefaultModelPath } from '@stablesr/default-model';
import { IRSDEUpscaler } from '@stablesr/irsde';
import { type ServiceModel, irsdeServiceModel, stableSRServiceModel } from '@stablesr/service';
import { StableSR } from '@stablesr/stablesr';
import { detectModelFamily } from './irsdeOptions.js';
import { type ModelFlags } from './modelFlags.js';
import { startEngine } from './options/engineOptions.js';
import { UsageError } from './usageError.js';
import { UPSCALE_WEIGHTS_HINT } from './weightsHint.js';

/**
 * The model of a service process (`serve` without `--redis`, `worker`), by the same rules as `upscale`: the family
 * read off the checkpoint's keys (or `--model`), StableSR's weight and config flags, the engine flags. Without
 * `--checkpoint`, the shipped default model (checksum-verified), as `upscale` does.
 */
export async function loadModel(f: ModelFlags): Promise<ServiceModel> {
  if (f.checkpoint === undefined && f.family === 'stablesr') throw new UsageError(UPSCALE_WEIGHTS_HINT);
  const checkpoint = f.checkpoint ?? verifiedDefaultModelPath().path;
  const family = f.checkpoint === undefined ? 'irsde' : (f.family ?? detectModelFamily(checkpoint));
  await initBackend(f.backend);
  await startEngine(f.engine);
  if (family === 'irsde') {
    const stablesrOnly = (['cfw', 'config', 'cfwConfig', 'textEncoder', 'tokenizer', 'preset', 'vaeTileSize', 'weights'] as const).find((k) => f[k] !== undefined);
    if (stablesrOnly) throw new UsageError(`--${stablesrOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to StableSR checkpoints; ${checkpoint} is an IR-SDE model`);
    return irsdeServiceModel(await IRSDEUpscaler.load({ checkpoint, ...f.engine }), f.name ?? (f.checkpoint === undefined ? 'default' : 'irsde'));
  }
  const sr = await StableSR.load({
    checkpoint,
    ...f.engine,
    ...(f.backend !== undefined && { backend: f.backend }),
    ...(f.cfw !== undefined && { cfw: f.cfw }),
    ...(f.config !== undefined && { config: f.config }),
    ...(f.cfwConfig !== undefined && { cfwConfig: f.cfwConfig }),
    ...(f.preset !== undefined && { preset: f.preset }),
    ...(f.textEncoder !== undefined && { textEncoder: f.textEncoder }),
    ...(f.tokenizer !== undefined && { tokenizer: f.tokenizer }),
    ...(f.vaeTileSize !== undefined && { vaeTileSize: f.vaeTileSize }),
    ...(f.weights !== undefined && { weights: f.weights }),
  });
  return stableSRServiceModel(sr, f.name ?? 'stablesr');
}

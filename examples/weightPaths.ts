// Weight paths for the examples: `--checkpoint FILE` style arguments first, then environment variables.
import { STABLESR_PRESETS, type StableSRLoadOptions, type StableSRPreset } from '@stablesr/stablesr';
import { existsSync } from 'node:fs';

export interface WeightSpec {
  flag: string;
  env: string;
  required: boolean;
  what: string;
}

/** Removes `--flag VALUE` pairs named in `specs` from `argv` and returns them (or the env value) by flag. */
export function takeWeightPaths(argv: string[], specs: readonly WeightSpec[]): { paths: Record<string, string | undefined>; rest: string[] } {
  const rest: string[] = [];
  const given: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const spec = specs.find((s) => a === `--${s.flag}` || a.startsWith(`--${s.flag}=`));
    if (!spec) {
      rest.push(a);
      continue;
    }
    given[spec.flag] = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i] ?? '';
  }
  const paths: Record<string, string | undefined> = {};
  for (const s of specs) {
    const p = given[s.flag] ?? process.env[s.env];
    if (p === undefined || p === '') {
      if (s.required) fail(`missing ${s.what}: pass --${s.flag} FILE or set ${s.env}`);
      paths[s.flag] = undefined;
      continue;
    }
    if (!existsSync(p)) fail(`--${s.flag} / ${s.env}: no such file: ${p}`);
    paths[s.flag] = p;
  }
  return { paths, rest };
}

/** Prints one line and exits with status 2 (bad usage), like the CLI. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

/** The StableSR weights every SR example needs. */
export const SR_WEIGHTS: readonly WeightSpec[] = [
  { flag: 'checkpoint', env: 'STABLESR_CHECKPOINT', required: true, what: 'StableSR checkpoint (stablesr_000117.ckpt from https://huggingface.co/Iceclear/StableSR)' },
  { flag: 'cfw', env: 'STABLESR_CFW', required: false, what: 'CFW decoder (vqgan_cfw_00011.ckpt)' },
  { flag: 'config', env: 'STABLESR_CONFIG', required: false, what: 'model config YAML' },
  { flag: 'text-encoder', env: 'STABLESR_TEXT_ENCODER', required: false, what: 'OpenCLIP text tower weights' },
  { flag: 'tokenizer', env: 'STABLESR_TOKENIZER', required: false, what: 'OpenCLIP vocabulary bpe_simple_vocab_16e6.txt.gz' },
];

/** Removes `--flag VALUE` (or `--flag=VALUE`) from `rest` and returns the value (else the env variable `env`). */
export function takeValue(rest: string[], flag: string, env?: string): string | undefined {
  const i = rest.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return env !== undefined ? process.env[env] || undefined : undefined;
  const a = rest[i]!;
  if (a.includes('=')) {
    rest.splice(i, 1);
    return a.slice(a.indexOf('=') + 1);
  }
  if (i + 1 >= rest.length) fail(`${flag} needs a value`);
  return rest.splice(i, 2)[1]!;
}

/**
 * `StableSR.load` options from the parsed paths, plus `--preset 512|768v` (or STABLESR_PRESET) taken from `rest`:
 * the 768 model has the same tensor shapes as the 512 one, so only the preset tells them apart.
 */
export function srLoadOptions(paths: Record<string, string | undefined>, rest: string[] = []): StableSRLoadOptions {
  const preset = takeValue(rest, '--preset', 'STABLESR_PRESET');
  if (preset !== undefined && !(preset in STABLESR_PRESETS)) fail(`--preset must be one of ${Object.keys(STABLESR_PRESETS).join(', ')}, got "${preset}"`);
  const engine = takeValue(rest, '--engine');
  if (engine !== undefined && !['auto', 'onnxruntime', 'tfjs'].includes(engine)) fail(`--engine must be auto, onnxruntime or tfjs, got "${engine}"`);
  const threads = takeValue(rest, '--threads');
  if (threads !== undefined && !(Number.isInteger(Number(threads)) && Number(threads) >= 1)) fail(`--threads must be a whole number ≥ 1, got "${threads}"`);
  return {
    ...(engine !== undefined && { engine: engine as 'auto' | 'onnxruntime' | 'tfjs' }),
    ...(threads !== undefined && { threads: Number(threads) }),
    checkpoint: paths.checkpoint!,
    ...(paths.cfw && { cfw: paths.cfw }),
    ...(paths.config && { config: paths.config }),
    ...(preset !== undefined && { preset: preset as StableSRPreset }),
    ...(paths['text-encoder'] && { textEncoder: paths['text-encoder'] }),
    ...(paths.tokenizer && { tokenizer: paths.tokenizer }),
  };
}

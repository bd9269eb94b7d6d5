/**
 * One option of an IR-SDE upscale ({@link IRSDEUpscaleOptions}) as the command line and the HTTP API take it: its API
 * name, its kebab-case flag / query name, its type and model-independent range. Defined once here so that
 * `stablesr upscale` and `stablesr serve` accept the same values; rules that need the model (steps ≤ T) are checked
 * by {@link checkIrsdeSteps} and {@link IRSDEUpscaler.upscale}.
 */
export interface IrsdeUpscaleOptionSpec {
  name: 'scale' | 'steps' | 'sampler' | 'temperature' | 'selfEnsemble' | 'seed' | 'tileSize' | 'tileOverlap';
  flag: string;
  /** `switch`: on | off, a boolean option. */
  kind: 'int' | 'number' | 'choice' | 'switch';
  min?: number;
  max?: number;
  choices?: readonly string[];
}

/** Every IR-SDE upscale option with a plain value, in the order the CLI documents them. */
export const IRSDE_UPSCALE_OPTION_SPECS: readonly IrsdeUpscaleOptionSpec[] = [
  { name: 'scale', flag: 'scale', kind: 'int', min: 1, max: 16 },
  { name: 'steps', flag: 'steps', kind: 'int', min: 1, max: 10000 },
  { name: 'sampler', flag: 'sampler', kind: 'choice', choices: ['sde', 'posterior'] },
  { name: 'temperature', flag: 'temperature', kind: 'number', min: 0, max: 2 },
  { name: 'selfEnsemble', flag: 'self-ensemble', kind: 'switch', choices: ['on', 'off'] },
  { name: 'seed', flag: 'seed', kind: 'int', min: 0, max: 0xffffffff },
  { name: 'tileSize', flag: 'tile-size', kind: 'int', min: 8, max: 1 << 16 },
  { name: 'tileOverlap', flag: 'tile-overlap', kind: 'int', min: 0, max: 1 << 16 },
];

/**
 * The model-dependent rule on `steps` (a subset of the model's T timesteps; the sde sampler runs all of them), as
 * a message about the option named `label`, or undefined when the combination is fine.
 */
export function checkIrsdeSteps(T: number, steps: number | undefined, sampler: string | undefined, label: string): string | undefined {
  if (steps === undefined) return undefined;
  if (steps > T) return `${label} must be ≤ ${T} (the model's T: its reverse steps are a subset of its timesteps), got ${steps}`;
  if (sampler === 'sde' && steps !== T) return `${label} ${steps}: the sde sampler runs every timestep of the model (T = ${T}); fewer steps need the posterior sampler`;
  return undefined;
}

import { convertWeights } from '@stablesr/core';
import { parseArgs } from 'node:util';
import type { CliIo } from '../cliIo.js';
import { UsageError } from '../usageError.js';

export const CONVERT_HELP = `Usage: stablesr convert <in> <out.safetensors> [--fp16] [--variant V]

Writes the tensors of a PyTorch checkpoint (.ckpt/.pt/.pth/.bin; a Lightning checkpoint's state_dict),
a diffusers folder (keys prefixed unet./vae./text_encoder.) or a safetensors file into one .safetensors file.
Tensors keep their stored dtype unless --fp16 (floating-point tensors become float16).
The output is written atomically; the checkpoint is read one tensor at a time.`;

/** `stablesr convert <in> <out.safetensors> [--fp16]`; returns the exit code. */
export async function convertCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { fp16: { type: 'boolean' }, variant: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out(CONVERT_HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('convert: give an input weight file or folder and an output .safetensors path');
  const [input, output] = positionals as [string, string];
  if (!output.toLowerCase().endsWith('.safetensors')) throw new UsageError(`convert: output "${output}" must end in .safetensors`);
  let last = 0;
  const r = await convertWeights(input, output, {
    fp16: !!values.fp16,
    ...(values.variant !== undefined ? { variant: values.variant } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
    onProgress: (e) => {
      if (!io.progress) return;
      const pct = Math.floor((100 * e.done) / e.total);
      if (pct !== last || e.done === e.total) io.progress.write(`\rconvert: ${e.done}/${e.total} tensors (${pct}%)${e.done === e.total ? '\n' : ''}`);
      last = pct;
    },
  });
  const dt = Object.entries(r.dtypes).map(([d, n]) => `${d}: ${n}`).join(', ');
  io.out(`${output}: ${r.tensors} tensors (${dt}), ${r.bytes.toLocaleString('en-US')} bytes`);
  return 0;
}

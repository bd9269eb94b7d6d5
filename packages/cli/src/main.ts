import { parseBackendChoice, type BackendChoice, type ParityMode } from '@stablesr/core';
import { parseArgs } from 'node:util';
import { formatInspect, inspectWeights } from './commands/inspect.js';
import { parityCommand } from './commands/parity.js';
import { UsageError } from './usageError.js';

const HELP = `stablesr — latent-diffusion super-resolution on TensorFlow.js

Usage:
  stablesr parity <fixture-dir>... [--backend B]   check against golden reference fixtures
  stablesr inspect <weights> [--json]               list tensors, dtypes, shapes and parameter count
  stablesr --help

Backends: auto (default), wasm, cpu, tensorflow, tensorflow-gpu (also STABLESR_BACKEND).
Exit codes: 0 success, 1 runtime failure, 2 bad usage.`;

/** Entry point of the `stablesr` command; returns the process exit code. */
export async function main(argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) }): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const [command, ...rest] = argv;
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      io.out(HELP);
      return 0;
    }
    switch (command) {
      case 'parity': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { backend: { type: 'string' }, verbose: { type: 'boolean' }, mode: { type: 'string' } } });
        const backend: BackendChoice | undefined = values.backend ? parseBackendOption(values.backend) : undefined;
        const modes: ParityMode[] | undefined = values.mode === undefined ? undefined : values.mode === 'free' || values.mode === 'stepwise' ? [values.mode] : badUsage(`--mode must be free or stepwise, got "${values.mode}"`);
        return await parityCommand({ dirs: positionals, backend, modes, out: io.out });
      }
      case 'inspect': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, verbose: { type: 'boolean' } } });
        if (positionals.length !== 1) throw new UsageError('inspect: give exactly one weight file or folder');
        const r = inspectWeights(positionals[0]!);
        if (values.json) io.out(JSON.stringify(r, null, 2));
        else for (const l of formatInspect(r)) io.out(l);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}" (see stablesr --help)`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
    io.err(`stablesr: ${err.message}`);
    if (verbose && err.stack) io.err(err.stack);
    return usage ? 2 : 1;
  }
}

function parseBackendOption(v: string): BackendChoice {
  try {
    return parseBackendChoice(v, '--backend');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function badUsage(msg: string): never {
  throw new UsageError(msg);
}

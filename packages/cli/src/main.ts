import { EngineUnavailableError, parseBackendChoice, type BackendChoice, type ParityMode } from '@stablesr/core';
import { parseArgs } from 'node:util';
import type { CliIo } from './cliIo.js';
import { convertCommand } from './commands/convert.js';
import { generateCommand } from './commands/generate.js';
import { formatInspect, inspectWeights } from './commands/inspect.js';
import { parityCommand } from './commands/parity.js';
import { serveCommand } from './commands/serve.js';
import { upscaleCommand } from './commands/upscale.js';
import { workerCommand } from './commands/worker.js';
import { TRAIN_HELP, parseTrainArgs, trainCommand } from './commands/train.js';
import { parseGenerateArgs } from './generateOptions.js';
import { GENERATE_HELP, MAIN_HELP, SERVE_HELP, UPSCALE_HELP, WORKER_HELP } from './help.js';
import { parseServeArgs, parseWorkerArgs } from './serviceOptions.js';
import { ENGINE_FLAGS, parseEngineFlags } from './options/engineOptions.js';
import { parseUpscaleArgs } from './upscaleOptions.js';
import { UsageError } from './usageError.js';

export { processIo, type CliIo } from './cliIo.js';
export { UsageError } from './usageError.js';

const defaultIo: CliIo = { out: (s) => console.log(s), err: (s) => console.error(s) };

/**
 * Entry point of the `stablesr` command; returns the process exit code (0 success, 1 runtime failure,
 * 2 bad usage). Every error is printed as one line `stablesr: …` on `io.err` (the stack too with `--verbose`).
 */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const [command, ...rest] = argv;
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      io.out(MAIN_HELP);
      return 0;
    }
    switch (command) {
      case 'upscale': {
        const opts = parseUpscaleArgs(rest);
        if (opts === 'help') {
          io.out(UPSCALE_HELP);
          return 0;
        }
        return await upscaleCommand(opts, io);
      }
      case 'serve': {
        const opts = parseServeArgs(rest);
        if (opts === 'help') {
          io.out(SERVE_HELP);
          return 0;
        }
        return await serveCommand(opts, io);
      }
      case 'worker': {
        const opts = parseWorkerArgs(rest);
        if (opts === 'help') {
          io.out(WORKER_HELP);
          return 0;
        }
        return await workerCommand(opts, io);
      }
      case 'generate': {
        const opts = parseGenerateArgs(rest);
        if (opts === 'help') {
          io.out(GENERATE_HELP);
          return 0;
        }
        return await generateCommand(opts, io);
      }
      case 'train': {
        const opts = parseTrainArgs(rest);
        if (opts === 'help') {
          io.out(TRAIN_HELP);
          return 0;
        }
        return await trainCommand(opts, io);
      }
      case 'convert':
        return await convertCommand(rest, io);
      case 'parity': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { backend: { type: 'string' }, verbose: { type: 'boolean' }, mode: { type: 'string' }, ...ENGINE_FLAGS } });
        const backend: BackendChoice | undefined = values.backend ? parseBackendOption(values.backend) : undefined;
        const modes: ParityMode[] | undefined = values.mode === undefined ? undefined : values.mode === 'free' || values.mode === 'stepwise' ? [values.mode] : badUsage(`--mode must be free or stepwise, got "${values.mode}"`);
        return await parityCommand({ dirs: positionals, backend, modes, engine: parseEngineFlags(values), out: io.out });
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
    const usage = e instanceof UsageError || e instanceof EngineUnavailableError || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
    io.err(`stablesr: ${oneLine(err)}`);
    // A stack helps with runtime failures only; a usage error is fully described by its line.
    if (verbose && !usage && err.stack) io.err(err.stack);
    return usage ? 2 : 1;
  }
}

/** The first line of an error's message (the stack is for `--verbose`); aborts read as "interrupted". */
function oneLine(err: Error): string {
  if (err.name === 'AbortError') return 'interrupted';
  const msg = (err.message || String(err)).split('\n')[0]!.trim();
  return msg || err.name || 'unknown error';
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

export { loadTextToLatent, type TextToLatentModel, type TextToLatentOptions, type TextToLatentResult } from './generator.js';
export { ProgressBar } from './progressBar.js';

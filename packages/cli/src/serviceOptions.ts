import { DEFAULT_SERVICE_LIMITS, DEFAULT_WORKER_TUNING, type ServiceLimits, type WorkerTuning } from '@stablesr/service';
import { MODEL_FLAGS, type ModelFlags, hasModelFlags, parseModelFlags } from './modelFlags.js';
import { parseCommandArgs } from './options/parseCommandArgs.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { UsageError } from './usageError.js';

/** `stablesr serve` settings. */
export interface ServeCliOptions {
  host: string;
  port: number;
  redis?: string;
  token?: string;
  limits: ServiceLimits;
  /** In-process mode: the model, and jobs run at once. */
  model?: ModelFlags;
  concurrency: number;
  attempts: number;
}

/** `stablesr worker` settings. */
export interface WorkerCliOptions {
  redis: string;
  model: ModelFlags;
  tuning: WorkerTuning;
}

const REDIS_URL = /^rediss?:\/\/[^\s]+$/;

function redisUrl(raw: string | undefined, required: boolean): string | undefined {
  if (raw === undefined) {
    if (required) throw new UsageError('worker: --redis URL is required (e.g. --redis redis://127.0.0.1:6379)');
    return undefined;
  }
  if (!REDIS_URL.test(raw)) throw new UsageError(`--redis must be a redis:// or rediss:// URL, got "${raw}"`);
  return raw;
}

/** Parses `stablesr serve` arguments; `'help'` for `--help`. */
export function parseServeArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ServeCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('serve', args, {
    ...MODEL_FLAGS,
    host: { type: 'string' },
    port: { type: 'string' },
    redis: { type: 'string' },
    token: { type: 'string' },
    'max-body-mb': { type: 'string' },
    'max-pixels': { type: 'string' },
    'max-queued': { type: 'string' },
    'result-ttl': { type: 'string' },
    concurrency: { type: 'string' },
    attempts: { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const);
  if (v.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`serve: unexpected argument ${positionals[0]} (see stablesr serve --help)`);
  const redis = redisUrl(v.redis, false);
  const modelFlag = hasModelFlags(v);
  if (redis && modelFlag) throw new UsageError(`serve --redis: --${modelFlag} belongs on the workers (stablesr worker --redis URL --${modelFlag} …); serve loads no model`);
  const token = v.token ?? env.STABLESR_TOKEN;
  if (token !== undefined && token.length < 16) throw new UsageError('--token must be at least 16 characters (or set STABLESR_TOKEN)');
  const maxBodyMb = parseFloatOption('--max-body-mb', v['max-body-mb'], { above: 0, max: 4096 });
  const o: ServeCliOptions = {
    host: v.host ?? '127.0.0.1',
    port: parseIntOption('--port', v.port, { min: 0, max: 65535 }) ?? 8080,
    limits: {
      maxBodyBytes: maxBodyMb === undefined ? DEFAULT_SERVICE_LIMITS.maxBodyBytes : Math.round(maxBodyMb * 1024 * 1024),
      maxPixels: parseIntOption('--max-pixels', v['max-pixels'], { min: 1 }) ?? DEFAULT_SERVICE_LIMITS.maxPixels,
      maxQueued: parseIntOption('--max-queued', v['max-queued'], { min: 1 }) ?? DEFAULT_SERVICE_LIMITS.maxQueued,
      resultTtlSeconds: parseIntOption('--result-ttl', v['result-ttl'], { min: 1 }) ?? DEFAULT_SERVICE_LIMITS.resultTtlSeconds,
    },
    concurrency: parseIntOption('--concurrency', v.concurrency, { min: 1, max: 64 }) ?? 1,
    attempts: parseIntOption('--attempts', v.attempts, { min: 1, max: 100 }) ?? DEFAULT_WORKER_TUNING.attempts,
  };
  if (redis) o.redis = redis;
  else o.model = parseModelFlags(v);
  if (token !== undefined) o.token = token;
  return o;
}

/** Parses `stablesr worker` arguments; `'help'` for `--help`. */
export function parseWorkerArgs(args: string[]): WorkerCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('worker', args, {
    ...MODEL_FLAGS,
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    'lock-seconds': { type: 'string' },
    'stalled-seconds': { type: 'string' },
    attempts: { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const);
  if (v.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`worker: unexpected argument ${positionals[0]} (see stablesr worker --help)`);
  const d = DEFAULT_WORKER_TUNING;
  const tuning: WorkerTuning = {
    concurrency: parseIntOption('--concurrency', v.concurrency, { min: 1, max: 64 }) ?? d.concurrency,
    lockSeconds: parseIntOption('--lock-seconds', v['lock-seconds'], { min: 1 }) ?? d.lockSeconds,
    stalledCheckSeconds: parseIntOption('--stalled-seconds', v['stalled-seconds'], { min: 1 }) ?? d.stalledCheckSeconds,
    attempts: parseIntOption('--attempts', v.attempts, { min: 1, max: 100 }) ?? d.attempts,
  };
  return { redis: redisUrl(v.redis, true)!, model: parseModelFlags(v), tuning };
}

import { UsageError } from '../usageError.js';

/** One of a fixed set of words (`--sampler ddim`); the error lists the choices. */
export function parseChoice<C extends string>(flag: string, raw: string | undefined, choices: readonly C[]): C | undefined {
  if (raw === undefined) return undefined;
  if ((choices as readonly string[]).includes(raw)) return raw as C;
  throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${raw}"`);
}

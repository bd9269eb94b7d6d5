import { UsageError } from '../usageError.js';

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
}

function checkRange(flag: string, v: number, r: NumberRange, raw: string): number {
  if (r.min !== undefined && v < r.min) throw new UsageError(`${flag} must be ≥ ${r.min}, got ${raw}`);
  if (r.above !== undefined && v <= r.above) throw new UsageError(`${flag} must be > ${r.above}, got ${raw}`);
  if (r.max !== undefined && v > r.max) throw new UsageError(`${flag} must be ≤ ${r.max}, got ${raw}`);
  return v;
}

/** A whole number in range (`--steps 50`); anything else (`5.5`, `abc`, `1e3x`) is a usage error. */
export function parseIntOption(flag: string, raw: string | undefined, range: NumberRange = {}): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag} is too large: ${raw}`);
  return checkRange(flag, v, range, raw);
}

/** A finite decimal number in range (`--fidelity 0.5`). */
export function parseFloatOption(flag: string, raw: string | undefined, range: NumberRange = {}): number | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(v)) throw new UsageError(`${flag} must be a number, got "${raw}"`);
  return checkRange(flag, v, range, raw);
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../usageError.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The parsed flag values, typed from the option table. */
export type ParsedValues<O extends Options> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values'];

/**
 * `node:util` parseArgs with strict checking, turning its errors into one-line {@link UsageError}s that
 * name the command (unknown flags, missing values, unexpected positionals). A flag given twice is an error
 * unless it is declared `multiple`.
 */
export function parseCommandArgs<O extends Options>(command: string, args: string[], options: O): { values: ParsedValues<O>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(`${command}: ${describeParseError(e as Error & { code?: string })} (see stablesr ${command} --help)`);
  }
  const seen = new Set<string>();
  for (const tok of parsed.tokens ?? []) {
    if (tok.kind !== 'option') continue;
    if (seen.has(tok.name) && !options[tok.name]?.multiple) throw new UsageError(`${command}: --${tok.name} given more than once`);
    seen.add(tok.name);
  }
  return { values: parsed.values as ParsedValues<O>, positionals: parsed.positionals };
}

function describeParseError(e: Error & { code?: string }): string {
  const m = e.message.split('\n')[0]!;
  const flag = /(--[A-Za-z0-9][\w-]*)/.exec(m)?.[1] ?? /'(-[^' ,]+)/.exec(m)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag ?? m}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (flag && /does not take an argument/.test(m)) return `${flag} does not take a value`;
      if (flag && /ambiguous/.test(m)) return `${flag} needs a value (write ${flag}=VALUE for a value starting with "-")`;
      if (flag) return `${flag} needs a value`;
      return m;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']+)'/.exec(m)?.[1] ?? m}`;
    default:
      return m;
  }
}

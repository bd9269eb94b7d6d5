import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** Reads and parses a YAML (or JSON) config file; an unreadable or malformed file is an error naming it. */
export function readConfigFile(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the config (${(e as Error).message})`);
  }
}

#!/usr/bin/env node
import { main, processIo } from '../dist/main.js';

// First Ctrl-C aborts the running work cleanly (no partial output file); a second one exits at once.
const ctrl = new AbortController();
process.once('SIGINT', () => {
  ctrl.abort();
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await main(process.argv.slice(2), processIo(ctrl.signal));

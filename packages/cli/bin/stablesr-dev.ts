// Runs the CLI from TypeScript sources (no build needed): `npm run dev -- parity ../shared/fixtures/schedule`.
import { processIo } from '../src/cliIo.js';
import { main } from '../src/main.js';

// First Ctrl-C aborts the running work cleanly (no partial output file); a second one exits at once.
const ctrl = new AbortController();
process.once('SIGINT', () => {
  ctrl.abort();
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await main(process.argv.slice(2), processIo(ctrl.signal));

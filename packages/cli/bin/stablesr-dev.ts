// Runs the CLI from TypeScript sources (no build needed): `npm run dev -- parity ../shared/fixtures/schedule`.
import { main } from '../src/main.js';

process.exitCode = await main(process.argv.slice(2));

// Golden parity of the IR-SDE inference kinds (README 7.18) on every engine, free-running and teacher-forced.
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { parityKinds } from '../src/index.js';

registerFixtureTests(parityKinds);

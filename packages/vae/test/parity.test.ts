import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { parityKinds } from '../src/index.js';

registerFixtureTests(parityKinds);

// Golden parity of the four StableSR samplers (README 7.12–7.15), free-running and teacher-forced, with the
// real networks of the tiny `sr-a` bundle.
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { loadFixtureSRModels } from '../src/parity/srFixtureModels.js';
import { makeSrSamplerKinds } from '../src/parity/srSamplerKinds.js';

registerFixtureTests(makeSrSamplerKinds(loadFixtureSRModels));

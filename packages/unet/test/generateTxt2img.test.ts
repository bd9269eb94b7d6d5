import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { samplerKinds } from '../src/parity/samplerKinds.js';

registerFixtureTests({ 'sampler.txt2img-ddim': samplerKinds['sampler.txt2img-ddim']! });

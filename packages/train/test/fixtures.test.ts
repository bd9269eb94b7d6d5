// Golden parity of the training kinds (README 7.17, 7.18) on every engine. Only forward outputs (irsde.train-step's
// network_noise) depend on the engine; loss, gradients and the Adam step are eager tfjs on the training backend
// (wasm, see withTrainingBackend) in both.
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { parityKinds } from '../src/index.js';

// Serial: a training step may switch tfjs's process-global backend, which a concurrent fixture's set-up would undo.
registerFixtureTests(parityKinds, { serial: true });

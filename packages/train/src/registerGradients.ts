// Everything tfjs autodiff needs, registered on import.
//
// Gradient functions: tfjs-core's own `dist/register_all_gradients.js` is an ES module with extension-less relative
// imports ('./gradients/Abs_grad'), which Node's ESM loader (and tsx) refuse, and tfjs-core's CommonJS bundle
// (`tf-core.node.js`, what Node loads) leaves them out. Only `@tensorflow/tfjs` (the union package) carries them in a
// loadable form and registers them all, against the same tfjs-core instance, when imported. Training imports it for
// that only; its other parts (layers, converter, the webgl backend) stay unused and the project chooses its backend.
import '@tensorflow/tfjs';
// The wasm kernels must be registered before the ones replaced here are looked up.
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './wasmGradientKernels.js';

// Kernels: the wasm backend lacks Conv2DBackpropFilter and is slow at two others; see registerWasmGradientKernels.
registerWasmGradientKernels();

// tfjs-core alone registers no gradient functions: `@tensorflow/tfjs` (the union package) carries them and
// registers them all, against the same tfjs-core instance, when imported. Training imports it for that only; its
// other parts (layers, converter, the webgl backend) stay unused and the project still chooses its own backend.
import '@tensorflow/tfjs';

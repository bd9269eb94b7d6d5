import * as tf from '@tensorflow/tfjs-core';

// The wasm backend of tfjs 4.22 has every kernel the backward passes of ConditionalUNet and the SD U-Net use except
// Conv2DBackpropFilter (the weight gradient of every convolution). Registering that kernel for `wasm` here, written
// with kernels wasm has, lets `tf.grads` run there unchanged; inference never calls it, so it costs inference nothing.

/** The incoming tensor as a Tensor of this engine (the engine passes the op's own Tensors; plain infos get wrapped). */
function asTensor(info: tf.TensorInfo): tf.Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * `dW[kh, kw, ci, co] = Σ_{b, y, x} x̃[b, y·s + kh, x·s + kw, ci] · dy[b, y, x, co]` (x̃: x zero-padded as the forward
 * did) is itself a convolution once batch and channels trade places: x̃ as [ci, H̃, W̃, b] (ci "images" of b
 * channels) convolved with dy as a [oh, ow, b, co] filter, dilated by the forward stride, gives [ci, kh, kw, co].
 * Measured against im2col + matMul at the ConditionalUNet's training shapes (`scratch` numbers in the README's Speed
 * section): 2–10× faster, because wasm's convolution is XNNPACK's packed GEMM while matMul with a transposed
 * [b·oh·ow, ci] operand is not.
 */
export function conv2dFilterGradByConvolution(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly [number, number, number, number], strides: number | [number, number], pad: tf.backend_util.ExplicitPadding | 'valid' | 'same' | number, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  const [kh, kw] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(x.shape, [...filterShape], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) throw new Error(`Conv2DBackpropFilter: dy [${dy.shape}] does not match the ${info.outHeight}×${info.outWidth} output of x [${x.shape}]`);
  return tf.tidy(() => {
    // 'same' may pad more on the far side than any tap reaches; negative paddings never occur for the forward's sizes.
    const xp = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]]) : x;
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, H̃, W̃, b]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, b, co]
    const g = tf.conv2d(xt, f, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]); // [ci, ≥kh, ≥kw, co]
    // Rows past kh (from far-side padding the forward's taps never read) are not part of the gradient.
    const gk = g.shape[1] === kh && g.shape[2] === kw ? g : tf.slice(g, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(gk, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, ci, co]
  });
}

/** The `Conv2DBackpropFilter` kernel for `wasm`, from {@link conv2dFilterGradByConvolution}. NHWC only, as wasm's Conv2D. */
const conv2DBackpropFilterWasm: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as Record<'x' | 'dy', tf.TensorInfo>;
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter on wasm: data format ${a.dataFormat} is not supported (NHWC only)`);
    // Nested ops inside a kernel are not recorded on the gradient tape (the engine's kernel depth is > 0), and the
    // engine takes a returned Tensor as the kernel's output as it is.
    return tf.tidy(() => conv2dFilterGradByConvolution(asTensor(x) as tf.Tensor4D, asTensor(dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode));
  },
};

let registered = false;

/**
 * Registers the kernels that tfjs-wasm lacks for the backward passes of the project's networks (today only
 * `Conv2DBackpropFilter`), once per process. Kernels the wasm package registers itself in a later version win: an
 * existing registration is left as it is.
 */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of [conv2DBackpropFilterWasm]) if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
}

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

/**
 * `dx̃[i] = Σ_k dy_s[i − k]·W[k]` (dy_s: dy with s − 1 zeros between rows and columns, x̃: x padded as the forward
 * did) is a stride-1 convolution of zero-padded dy_s with the filter rotated by 180° and its channels swapped; the
 * padding is chosen so the result is exactly x's rows and columns. wasm's own Conv2DBackpropInput is a plain loop:
 * 15× slower than this at [8, 16, 16, 128] ⊛ 3×3×128×128 (295 ms vs 20 ms, `npm run bench -- train`).
 */
export function conv2dInputGradByConvolution(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: readonly [number, number, number, number], strides: number | [number, number], pad: tf.backend_util.ExplicitPadding | 'valid' | 'same' | number, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  const info = tf.backend_util.computeConv2DInfo([...inputShape], filter.shape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [b, h, w] = inputShape;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) throw new Error(`Conv2DBackpropInput: dy [${dy.shape}] does not match the ${info.outHeight}×${info.outWidth} output of x [${inputShape}]`);
  return tf.tidy(() => {
    const [, oh, ow, co] = dy.shape;
    // Zero-insertion for strides: [b, oh, 1, ow, 1, c] padded to [b, oh, s, ow, s, c], the trailing s − 1 zeros dropped.
    let d: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      const z = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, co]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      d = tf.slice(tf.reshape(z, [b, oh * sh, ow * sw, co]) as tf.Tensor4D, [0, 0, 0, 0], [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, co]);
    }
    const padStart = (k: number, p: number): number => k - 1 - p;
    const pt = padStart(kh, top), pl = padStart(kw, left);
    const pb = h + kh - 1 - d.shape[1] - pt, pr = w + kw - 1 - d.shape[2] - pl;
    // Negative pads (taps that start inside the padding or far-side rows never read) become crops.
    const padded = tf.pad(d, [[0, 0], [Math.max(pt, 0), Math.max(pb, 0)], [Math.max(pl, 0), Math.max(pr, 0)], [0, 0]]);
    const cropped = pt < 0 || pb < 0 || pl < 0 || pr < 0
      ? tf.slice(padded, [0, Math.max(-pt, 0), Math.max(-pl, 0), 0], [b, padded.shape[1] - Math.max(-pt, 0) - Math.max(-pb, 0), padded.shape[2] - Math.max(-pl, 0) - Math.max(-pr, 0), co])
      : padded;
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, co, ci]
    return tf.conv2d(cropped, rotated, 1, 'valid');
  });
}

/** wasm's own kernels, kept to fall back on where the replacements above do not apply. */
const wasmOriginals = new Map<string, tf.KernelFunc>();

/** `Conv2DBackpropInput` for `wasm` through {@link conv2dInputGradByConvolution} (NHWC, as wasm's Conv2D). */
const conv2DBackpropInputWasm: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { dy, filter } = args.inputs as unknown as Record<'dy' | 'filter', tf.TensorInfo>;
    const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    // tfjs differentiates convolutions only without dilation, so the op carries none.
    if (a.dataFormat !== 'NHWC') return wasmOriginals.get(tf.Conv2DBackpropInput)!(args);
    return tf.tidy(() => conv2dInputGradByConvolution(asTensor(dy) as tf.Tensor4D, asTensor(filter) as tf.Tensor4D, a.inputShape, a.strides, a.pad, a.dimRoundingMode));
  },
};

/**
 * `BatchMatMul` for `wasm` with transposed operands transposed first: wasm multiplies plain operands with XNNPACK's
 * GEMM but transposed ones with a loop, 10× slower at the gradient shapes of 1×1 convolutions ([2048, 128]ᵀ ·
 * [2048, 384]: 93 ms vs 9 ms). Autodiff asks for transposed products in every matmul and conv backward.
 */
const batchMatMulWasm: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: (args) => {
    const original = wasmOriginals.get(tf.BatchMatMul)!;
    const a = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!a.transposeA && !a.transposeB) return original(args);
    const { a: ia, b: ib } = args.inputs as unknown as Record<'a' | 'b', tf.TensorInfo>;
    const swapLast = (t: tf.Tensor): tf.Tensor => tf.transpose(t, [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)));
    const ta = a.transposeA ? swapLast(asTensor(ia)) : asTensor(ia);
    const tb = a.transposeB ? swapLast(asTensor(ib)) : asTensor(ib);
    try {
      return original({ ...args, inputs: { a: ta, b: tb }, attrs: { ...a, transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap });
    } finally {
      if (a.transposeA) ta.dispose();
      if (a.transposeB) tb.dispose();
    }
  },
};

let registered = false;

/**
 * Registers, once per process, the kernel tfjs-wasm lacks for the backward passes of the project's networks
 * (`Conv2DBackpropFilter`; one the wasm package registers itself in a later version wins) and replaces two it has
 * but runs slowly (`Conv2DBackpropInput`, transposed `BatchMatMul`) with faster forms built from its XNNPACK
 * kernels. Together they make a ConditionalUNet training step 4× faster on wasm (README Speed).
 */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel(conv2DBackpropFilterWasm.kernelName, 'wasm')) tf.registerKernel(conv2DBackpropFilterWasm);
  for (const k of [conv2DBackpropInputWasm, batchMatMulWasm]) {
    const original = tf.getKernel(k.kernelName, 'wasm');
    if (!original) continue;
    wasmOriginals.set(k.kernelName, original.kernelFunc);
    tf.unregisterKernel(k.kernelName, 'wasm');
    // The original's setup binds its wasm function when the backend starts; the fallback calls still need it.
    tf.registerKernel({ ...k, setupFunc: original.setupFunc });
  }
}

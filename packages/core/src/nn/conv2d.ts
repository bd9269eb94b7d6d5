import * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '../weights/weightView.js';

/**
 * A 2-D convolution loaded from `<name>.weight` (OIHW in the file) and optional `<name>.bias`.
 * `padding` is symmetric zero padding in pixels (PyTorch's `padding=`), or explicit [[top, bottom], [left, right]].
 */
export interface Conv2d {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | [[number, number], [number, number]];
  readonly dilation: number;
  readonly weight: tf.Tensor4D;
  readonly bias: tf.Tensor1D | undefined;
}

export interface Conv2dOptions {
  stride?: number;
  /** Default: kernelSize // 2 ("same" for odd kernels). */
  padding?: number | [[number, number], [number, number]];
  dilation?: number;
  bias?: boolean;
}

/** Loads a conv from `view.scope(name + '.')`-style keys: `${name}.weight`, `${name}.bias`. */
export function loadConv2d(view: WeightView, name: string, inChannels: number, outChannels: number, kernelSize: number, opts: Conv2dOptions = {}): Conv2d {
  const weight = view.conv2d(`${name}.weight`, [outChannels, inChannels, kernelSize, kernelSize]);
  const bias = opts.bias === false ? undefined : (view.get(`${name}.bias`, [outChannels]) as tf.Tensor1D);
  return {
    inChannels,
    outChannels,
    kernelSize,
    stride: opts.stride ?? 1,
    padding: opts.padding ?? Math.floor(kernelSize / 2),
    dilation: opts.dilation ?? 1,
    weight,
    bias,
  };
}

/** Applies the conv to an NHWC tensor. 1×1 convolutions run as a matMul (faster on wasm). */
export function conv2d(c: Conv2d, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w] = x.shape;
    if (c.kernelSize === 1 && c.stride === 1 && c.padding === 0) {
      const flat = tf.reshape(x, [b * h * w, c.inChannels]);
      const y = tf.matMul(flat, tf.reshape(c.weight, [c.inChannels, c.outChannels]));
      const yb = c.bias ? tf.add(y, c.bias) : y;
      return tf.reshape(yb, [b, h, w, c.outChannels]);
    }
    const pad = typeof c.padding === 'number' ? [[c.padding, c.padding], [c.padding, c.padding]] as [[number, number], [number, number]] : c.padding;
    const xp = pad[0][0] || pad[0][1] || pad[1][0] || pad[1][1] ? tf.pad(x, [[0, 0], pad[0], pad[1], [0, 0]]) : x;
    return tf.fused.conv2d({ x: xp, filter: c.weight, strides: c.stride, pad: 'valid', dilations: c.dilation, bias: c.bias });
  });
}

export function disposeConv2d(c: Conv2d): void {
  c.weight.dispose();
  c.bias?.dispose();
}

import * as tf from '@tensorflow/tfjs-core';
import { type LayerNorm, type Linear, gelu, layerNorm, linear, quickGelu } from '@stablesr/core';
import { type AttentionProjections, causalSelfAttention } from './causalSelfAttention.js';

/** MLP activation of a CLIP text transformer: exact erf GELU (OpenCLIP `nn.GELU`, HF `gelu`) or OpenAI's QuickGELU. */
export type ClipActivation = 'gelu' | 'quick_gelu';

/** Applies the block's MLP activation elementwise. */
export function applyClipActivation(act: ClipActivation, x: tf.Tensor): tf.Tensor {
  return act === 'gelu' ? gelu(x) : quickGelu(x);
}

/**
 * The parts of one pre-norm CLIP transformer block, whatever the checkpoint calls them
 * (open_clip `ResidualAttentionBlock`: ln_1/attn/ln_2/mlp.c_fc/mlp.c_proj; HF `CLIPEncoderLayer`: layer_norm1/self_attn/layer_norm2/mlp.fc1/mlp.fc2).
 */
export interface PreNormBlockParts {
  readonly norm1: LayerNorm;
  readonly attention: AttentionProjections;
  readonly norm2: LayerNorm;
  readonly fcIn: Linear;
  readonly fcOut: Linear;
  readonly activation: ClipActivation;
}

/** `x = x + attn(norm1(x), causal); x = x + fcOut(act(fcIn(norm2(x))))` over `[N, T, W]`. */
export function preNormBlock(p: PreNormBlockParts, x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const h = tf.add(x, causalSelfAttention(p.attention, layerNorm(p.norm1, x) as tf.Tensor3D, mask));
    return tf.add(h, linear(p.fcOut, applyClipActivation(p.activation, linear(p.fcIn, layerNorm(p.norm2, h))))) as tf.Tensor3D;
  });
}

import { type LayerNorm, type Linear, type Ops } from '@stablesr/core';
import { type AttentionProjections, causalSelfAttentionOps } from './causalSelfAttention.js';

/** MLP activation of a CLIP text transformer: exact erf GELU (OpenCLIP `nn.GELU`, HF `gelu`) or OpenAI's QuickGELU. */
export type ClipActivation = 'gelu' | 'quick_gelu';

/** Applies the block's MLP activation elementwise. */
export function clipActivationOps<T>(ops: Ops<T>, act: ClipActivation, x: T): T {
  return act === 'gelu' ? ops.gelu(x) : ops.quickGelu(x);
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

/** `x = x + attn(norm1(x), causal); x = x + fcOut(act(fcIn(norm2(x))))` over tokens `[B, N, W]`. */
export function preNormBlockOps<T>(ops: Ops<T>, p: PreNormBlockParts, x: T): T {
  return ops.scope(() => {
    const h = ops.add(x, causalSelfAttentionOps(ops, p.attention, ops.layerNorm(p.norm1, x)));
    return ops.add(h, ops.linear(p.fcOut, clipActivationOps(ops, p.activation, ops.linear(p.fcIn, ops.layerNorm(p.norm2, h)))));
  });
}

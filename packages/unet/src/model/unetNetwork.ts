import type * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, compileNetwork } from '@stablesr/core';
import { type ResBlockCond } from './resBlockModulation.js';
import { type UNet, type UNetForwardOptions, unetForwardOps } from './unetModel.js';
import { batchTimestepEmbedding } from './timestepEmbedding.js';

/** A U-Net compiled for an engine: `UNetModel.forward(x, timesteps, context[, struct_cond])` → raw output (ε or v). */
export interface UNetNetwork {
  run(x: tf.Tensor4D, timesteps: ArrayLike<number>, context?: tf.Tensor3D, cond?: ResBlockCond<tf.Tensor>): Promise<tf.Tensor4D>;
  readonly network: CompiledNetwork;
}

/**
 * Compiles {@link unetForwardOps} for `engine`. The sinusoidal timestep embedding is host math and enters the network
 * as an input; a conditioning map (StableSR's struct_cond) enters as one input per width, widest first, and is keyed
 * by width again inside. On tfjs the forward's per-layer scopes upload host-held weights one layer at a time.
 */
export function compileUNet(unet: UNet, engine: EngineInfo, name = 'U-Net', opts: UNetForwardOptions = {}): UNetNetwork {
  const hasContext = unet.contextDim !== undefined;
  const network = compileNetwork(
    {
      name,
      module: unet,
      onnxOptimization: 'extended',
      forward: (ops, [x, tEmb, ...rest]) => {
        const context = hasContext ? rest[0] : undefined;
        const maps = hasContext ? rest.slice(1) : rest;
        const cond = unet.extension ? new Map(maps.map((m) => [ops.shape(m)[2]!, m])) : undefined;
        return [unetForwardOps(ops, unet, x!, tEmb!, context, cond, opts)];
      },
    },
    engine,
  );
  return {
    network,
    run: async (x, timesteps, context, cond) => {
      if (hasContext && !context) throw new Error('U-Net: this model has cross-attention and needs a context [B, M, context_dim]');
      if (unet.extension && cond === undefined) throw new Error(`U-Net: the ${unet.extension} modulation needs its conditioning (struct_cond), but none was given`);
      const tEmb = batchTimestepEmbedding(timesteps, x.shape[0], unet.time_embed.modelChannels, 'U-Net');
      try {
        const maps = cond ? [...cond.entries()].sort((a, c) => c[0] - a[0]).map(([, m]) => m) : [];
        const [out] = await network.run([x, tEmb, ...(hasContext ? [context!] : []), ...maps]);
        return out as tf.Tensor4D;
      } finally {
        tEmb.dispose();
      }
    },
  };
}

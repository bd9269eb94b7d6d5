import * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, compileNetwork } from '@stablesr/core';
import { type ConditionalUNet, conditionalUNetForward } from './conditionalUNet.js';
import { sinusoidalPosEmb } from './sinusoidalPosEmb.js';

/** A compiled {@link ConditionalUNet}: `run(xt, cond, t)` → predicted noise (NHWC); the caller owns the result. */
export interface ConditionalUNetNetwork {
  readonly network: CompiledNetwork;
  /** `t`: one timestep for the batch or one per sample (1 … T). */
  run(xt: tf.Tensor4D, cond: tf.Tensor4D, t: number | readonly number[]): Promise<tf.Tensor4D>;
}

/**
 * Compiles {@link conditionalUNetForward} for `engine` (eager tfjs or an ONNX Runtime session per input shape).
 * The sinusoidal time embedding is host math and enters the network as its third input.
 */
export function compileConditionalUNet(net: ConditionalUNet, engine: EngineInfo): ConditionalUNetNetwork {
  const network = compileNetwork(
    { name: 'IR-SDE ConditionalUNet', module: net, uploadWhole: true, forward: (ops, [xt, cond, tEmb]) => [conditionalUNetForward(ops, net, xt!, cond!, tEmb!)] },
    engine,
  );
  return {
    network,
    run: async (xt, cond, t) => {
      const b = xt.shape[0];
      const ts = typeof t === 'number' ? [t] : [...t];
      if (ts.length !== b && ts.length !== 1) throw new Error(`IR-SDE ConditionalUNet: ${ts.length} timesteps for a batch of ${b}`);
      if (cond.shape.some((d, i) => d !== xt.shape[i])) throw new Error(`IR-SDE ConditionalUNet: cond [${cond.shape}] and xt [${xt.shape}] differ in shape`);
      // The reference broadcasts one timestep over the batch (`torch.tensor([t])`).
      const tEmb = sinusoidalPosEmb(ts.length === b ? ts : Array.from({ length: b }, () => ts[0]!), net.config.nf);
      try {
        const [out] = await network.run([xt, cond, tEmb]);
        return out as tf.Tensor4D;
      } finally {
        tEmb.dispose();
      }
    },
  };
}

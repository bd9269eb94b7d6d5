import { type Fixture } from '@stablesr/core';
import { loadSRNetworks } from '../srNetworks.js';
import { parseStableSRConfig } from '../stableSRConfig.js';
import { type FixtureModelsLoader } from './srSamplerKinds.js';

/**
 * The SR networks of a sampler fixture: `config.model` (sections named like the reference YAML), weights
 * entry 0 = the StableSR checkpoint (prefix ""), entry 1 = the CFW autoencoder.
 */
export const loadFixtureSRModels: FixtureModelsLoader = async (fx: Fixture, env) => {
  const model = fx.config.model;
  if (!model || typeof model !== 'object') throw new Error(`${fx.dir}: manifest config has no "model" section`);
  const config = parseStableSRConfig(model, `${fx.dir}/manifest.json config.model`);
  const nets = await loadSRNetworks(config, fx.weights(0), fx.manifest.weights.length > 1 ? fx.weights(1) : undefined, { engine: env.engine });
  return { models: nets.models, dispose: () => nets.dispose() };
};

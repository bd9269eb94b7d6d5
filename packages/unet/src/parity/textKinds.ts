import { type Fixture, type ParityKinds, configEntry as namedEntry } from '@stablesr/core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClipTokenizer } from '../text/clipTokenizer.js';
import { type OpenClipLayer, type OpenClipTextCfg } from '../text/openClipTextTower.js';
import { TextConditioner } from '../text/textConditioner.js';

/** A manifest config entry by the name before " (" (e.g. "cond_stage_config (FrozenOpenCLIPEmbedder)"). */
function configEntry<T>(fx: Fixture, name: string): T | undefined {
  return namedEntry(fx.config, name)?.value as T | undefined;
}

function required<T>(fx: Fixture, name: string): T {
  const v = configEntry<T>(fx, name);
  if (v === undefined) throw new Error(`${fx.dir}: manifest config has no "${name}"`);
  return v;
}

/** The open_clip vocabulary a fixture names, else the shared one beside the fixture folders (README §1). */
function vocabularyPath(fx: Fixture): string {
  const named = configEntry<string>(fx, 'vocab');
  const path = resolve(fx.dir, named ?? '../tokenizer/bpe_simple_vocab_16e6.txt.gz');
  if (!existsSync(path)) throw new Error(`${fx.dir}: BPE vocabulary ${path} not found`);
  return path;
}

function flatten(rows: readonly Int32Array[]): Int32Array {
  const n = rows[0]?.length ?? 0;
  const out = new Int32Array(rows.length * n);
  rows.forEach((r, i) => out.set(r, i * n));
  return out;
}

/** Fixture kinds of the text conditioning: open_clip tokenizer and the FrozenOpenCLIPEmbedder tower. */
export const textKinds: ParityKinds = {
  'text.tokenize': {
    async run(fx) {
      const contextLength = required<number>(fx, 'context_length');
      const tok = ClipTokenizer.load(vocabularyPath(fx), { contextLength, padTokenId: configEntry<number>(fx, 'pad_token') ?? 0 });
      for (const [name, actual] of [['sot_token', tok.startTokenId], ['eot_token', tok.endTokenId]] as const) {
        const expected = configEntry<number>(fx, name);
        if (expected !== undefined && expected !== actual) throw new Error(`${fx.dir}: config ${name} is ${expected} but the vocabulary gives ${actual}`);
      }
      return { ids: flatten(tok.tokenize(fx.value<string[]>('prompts'))) };
    },
  },
  'text.encode': {
    async run(fx, env) {
      const embedder = required<{ layer?: OpenClipLayer }>(fx, 'cond_stage_config');
      const modelCfg = required<{ text_cfg: OpenClipTextCfg; quick_gelu?: boolean }>(fx, 'open_clip_model_cfg');
      const layer = embedder.layer ?? 'last';
      const layerIdx = configEntry<number>(fx, 'layer_idx');
      if (layerIdx !== undefined && layerIdx !== (layer === 'last' ? 0 : 1)) throw new Error(`${fx.dir}: layer_idx ${layerIdx} contradicts layer "${layer}"`);
      const prompts = fx.value<string[]>('prompts');
      const text = TextConditioner.load({
        encoder: { type: 'open_clip', text_cfg: modelCfg.text_cfg, layer, quick_gelu: modelCfg.quick_gelu ?? false },
        weights: fx.weights(0),
        tokenizer: vocabularyPath(fx),
        engine: env.engine,
      });
      try {
        // The tower's parity is only meaningful if it sees the reference's ids: check them before encoding.
        const ids = fx.raw((fx.manifest.inputs.ids as { key: string }).key).data;
        const ours = flatten(text.tokenizer.tokenize(prompts));
        const firstDiff = ours.findIndex((v, i) => v !== ids[i]);
        if (firstDiff >= 0 || ours.length !== ids.length) throw new Error(`${fx.dir}: tokenizer ids differ from the fixture's "ids" input (first at flat index ${firstDiff})`);
        return { z: await text.encode(prompts) };
      } finally {
        text.dispose();
      }
    },
  },
};

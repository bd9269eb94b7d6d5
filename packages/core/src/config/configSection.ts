/**
 * Reading latent-diffusion model configurations: the official YAML layout
 * (`model: {target, params: {unet_config: {target, params}, …}}`) and the fixture manifests' `config`, whose
 * sections are named with the class in parentheses (`"unet_config (UNetModelDualcondV2)"`).
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * The entry of `config` named `name`: a key equal to it, or `"name (Class)"` (fixture manifests), with the class
 * in parentheses. With `objectsOnly`, entries whose value is not a mapping are passed over.
 */
export function configEntry(config: Obj, name: string, objectsOnly = false): { value: unknown; cls: string | undefined } | undefined {
  for (const [k, value] of Object.entries(config)) {
    const [base, paren] = k.split(' (');
    if (base === name && (!objectsOnly || isObj(value))) return { value, cls: paren?.replace(/\)$/, '') };
  }
  return undefined;
}

/**
 * The constructor params of the section `name` (see {@link configEntry}): a YAML `{target, params}` gives its
 * params and the class named by the target; a bare params object (manifests, parsed configs) stays as is.
 */
export function ldmSection(config: Obj, name: string): { params: Obj; cls: string | undefined } | undefined {
  const e = configEntry(config, name, true);
  if (!e) return undefined;
  const v = e.value as Obj;
  if (typeof v.target === 'string') return { params: isObj(v.params) ? v.params : {}, cls: v.target.split('.').pop() };
  return { params: v, cls: e.cls };
}

/**
 * The mapping holding a latent-diffusion model's fields and sections: `model.params` of an official YAML
 * (`model` itself when it has no params), else the object given (`model.params` alone, a manifest config).
 */
export function ldmModelParams(raw: unknown, source: string): Obj {
  if (!isObj(raw)) throw new Error(`${source}: expected a mapping at the top level`);
  if (!isObj(raw.model)) return raw;
  return isObj(raw.model.params) ? raw.model.params : raw.model;
}

/** A finite number config field, `fallback` when absent; anything else is an error naming `where`. */
export function configNumber(v: unknown, where: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The fields of `o` that are not undefined, for laying a partial config over inferred values and defaults
 * (`{...base, ...inferred, ...definedFields(given)}`): an absent field must not hide what lies below; null stays,
 * as in a YAML that sets a field to nothing.
 */
export function definedFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import { PickleFunction, PyGlobal } from './pickle.js';
import { type StorageDType } from './tensorSource.js';

/**
 * Which Python globals a PyTorch checkpoint pickle may reference, and what each becomes.
 *
 * Policy (safety comes first from the interpreter never calling Python; the allow-list is a second line
 * that makes a hostile or unexpected pickle fail loudly instead of being half-understood):
 *
 * 1. **Tensor and container types** get JavaScript re-implementations of their pure data constructors:
 *    `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` / `_rebuild_parameter`
 *    / `_rebuild_parameter_with_state`, `torch._tensor._rebuild_from_type_v2`, `torch.Size`, `builtins.set`
 *    / `frozenset`, `_codecs.encode` (how protocol 2 spells `bytes`), and the storage classes
 *    (`torch.FloatStorage` … `torch.BoolStorage`, `torch.UntypedStorage`).
 * 2. **Inert data types** that Lightning checkpoints hold beside `state_dict` (callback classes used as dict
 *    keys, `AttributeDict` / omegaconf hyper-parameters, numpy scalars, `argparse.Namespace`, torch dtypes and
 *    devices) become opaque {@link PyGlobal} placeholders; "calling" them only records the arguments.
 *    Callers may extend this list (`inertGlobals`) for harmless classes of their own training code.
 * 3. **Everything else is refused** with an error naming `module.name` — in particular `os.system`,
 *    `posix.system`, `builtins.eval`/`exec`/`getattr`, `subprocess.*`: a pickle referencing them is built to
 *    run code when loaded by Python.
 */

/** Storage class → stored dtype. */
const STORAGE_DTYPES: Readonly<Record<string, StorageDType>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

/** A storage class such as `torch.FloatStorage`, as it appears in the persistent id of a tensor storage. */
export class TorchStorageType extends PyGlobal {
  constructor(
    module: string,
    name: string,
    readonly dtype: StorageDType,
  ) {
    super(module, name);
  }
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view (offset, shape, strides in elements) into a storage. */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** A storage from the persistent id `('storage', StorageClass, key, location, numel)`; its bytes are `data/<key>`. */
export class TorchStorageRef {
  constructor(
    readonly key: string,
    readonly dtype: StorageDType,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** Exact names and `prefix.*` patterns of inert globals (see policy 2 above). */
export const DEFAULT_INERT_GLOBALS: readonly string[] = Object.freeze([
  'pytorch_lightning.*',
  'lightning.*',
  'lightning_fabric.*',
  'omegaconf.*',
  'argparse.Namespace',
  'typing.Any',
  'numpy.core.multiarray.scalar',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.dtypes.*',
  'torch.device',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  'torch.float32', 'torch.float16', 'torch.bfloat16', 'torch.float64', 'torch.int64', 'torch.int32',
  'torch.int16', 'torch.int8', 'torch.uint8', 'torch.bool',
  'builtins.object', 'builtins.dict', 'builtins.list', 'builtins.tuple', 'builtins.int', 'builtins.float',
  'builtins.str', 'builtins.bool', 'builtins.bytes', 'builtins.slice', 'builtins.complex',
]);

function matches(patterns: readonly string[], qualified: string): boolean {
  return patterns.some((p) => (p.endsWith('.*') ? qualified.startsWith(p.slice(0, -1)) : p === qualified));
}

const PY2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

const asInt = (v: unknown, what: string, fail: (m: string) => never): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${what} must be a non-negative integer, got ${String(v)}`);
  return v as number;
};
const asIntList = (v: unknown, what: string, fail: (m: string) => never): number[] => {
  if (!Array.isArray(v)) fail(`${what} must be a tuple of integers, got ${typeof v}`);
  return (v as unknown[]).map((d, i) => asInt(d, `${what}[${i}]`, fail));
};

function rebuildTensor(args: readonly unknown[], fail: (m: string) => never): TorchTensorRef {
  const [storage, offset, shape, stride] = args;
  if (!(storage instanceof TorchStorageRef)) fail('_rebuild_tensor_v2: first argument is not a tensor storage');
  const sh = asIntList(shape, 'tensor size', fail);
  const st = asIntList(stride, 'tensor stride', fail);
  if (sh.length !== st.length) fail(`tensor size ${JSON.stringify(sh)} and stride ${JSON.stringify(st)} differ in rank`);
  return new TorchTensorRef(storage as TorchStorageRef, asInt(offset, 'storage offset', fail), Object.freeze(sh), Object.freeze(st));
}

/**
 * Builds the global resolver for one checkpoint. `fail` throws an error naming the file and pickle entry.
 */
export function torchGlobalResolver(inertGlobals: readonly string[], fail: (m: string) => never): (module: string, name: string) => unknown {
  const inert = [...DEFAULT_INERT_GLOBALS, ...inertGlobals];
  const fns = new Map<string, PickleFunction>();
  const fn = (q: string, f: (args: readonly unknown[]) => unknown): void => {
    fns.set(q, new PickleFunction(q, f));
  };
  fn('collections.OrderedDict', (args) => {
    const m = new Map<unknown, unknown>();
    const init = args[0];
    if (Array.isArray(init)) for (const pair of init) if (Array.isArray(pair) && pair.length === 2) m.set(pair[0], pair[1]);
    return m;
  });
  fn('torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(args, fail));
  fn('torch._utils._rebuild_tensor', (args) => rebuildTensor(args, fail));
  // Parameters unwrap to their tensor: requires_grad and hooks mean nothing for inference.
  fn('torch._utils._rebuild_parameter', (args) => args[0]);
  fn('torch._utils._rebuild_parameter_with_state', (args) => args[0]);
  fn('torch._tensor._rebuild_from_type_v2', (args) => {
    const [func, , inner] = args;
    if (!(func instanceof PickleFunction) || !Array.isArray(inner)) fail('_rebuild_from_type_v2: unsupported tensor reconstruction');
    return (func as PickleFunction).call(inner as unknown[]);
  });
  fn('torch.Size', (args) => Object.freeze(Array.isArray(args[0]) ? [...args[0]] : []));
  fn('builtins.set', (args) => new Set(Array.isArray(args[0]) ? args[0] : []));
  fn('builtins.frozenset', (args) => new Set(Array.isArray(args[0]) ? args[0] : []));
  fn('_codecs.encode', (args) => {
    const [text, encoding] = args;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) fail('_codecs.encode: only latin1-encoded text (protocol-2 bytes) is supported');
    return Uint8Array.from(text as string, (c) => c.charCodeAt(0));
  });

  return (rawModule, name) => {
    const module = PY2_MODULES[rawModule] ?? rawModule;
    const q = `${module}.${name}`;
    const f = fns.get(q);
    if (f) return f;
    if ((module === 'torch' || module === 'torch.storage') && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name)) {
      return new TorchStorageType(module, name, STORAGE_DTYPES[name]!);
    }
    if (matches(inert, q)) return new PyGlobal(module, name);
    return fail(
      `refusing global "${q}": only tensor, storage and known plain-data types may appear in a checkpoint ` +
        `(loading this pickle in Python would call "${q}"; it may be malicious). Nothing was executed. ` +
        `If it is a harmless class of your own training code, list it in inertGlobals.`,
    );
  };
}

/** Resolves the persistent id of a tensor storage; storages with the same key are the same object. */
export function torchPersistentLoader(fail: (m: string) => never): (pid: unknown) => TorchStorageRef {
  const seen = new Map<string, TorchStorageRef>();
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) fail(`unsupported persistent id ${JSON.stringify(pid)} (expected a tensor storage)`);
    const [, type, key, location, numel] = pid as unknown[];
    if (!(type instanceof TorchStorageType)) fail(`persistent id names a storage of type ${type instanceof PyGlobal ? type.qualifiedName : typeof type}, not a torch storage class`);
    if (typeof key !== 'string') fail('persistent id has a non-string storage key');
    const k = key as string;
    const n = asInt(numel, `numel of storage "${k}"`, fail);
    const dtype = (type as TorchStorageType).dtype;
    const prev = seen.get(k);
    if (prev) {
      if (prev.dtype !== dtype) fail(`storage "${k}" is used both as ${prev.dtype} and ${dtype}`);
      return prev;
    }
    const ref = new TorchStorageRef(k, dtype, String(location), n);
    seen.set(k, ref);
    return ref;
  };
}

/**
 * A restricted pickle interpreter. It reads the opcodes that `torch.save` (protocol 2) and newer protocols
 * (3–5 framing) use for state dicts and the surrounding Lightning checkpoint dict, and builds plain values:
 *
 * | Python            | here                                   |
 * |-------------------|----------------------------------------|
 * | None / bool / str | `null` / `boolean` / `string`          |
 * | int               | `number` (`bigint` beyond 2^53)        |
 * | float             | `number`                               |
 * | bytes             | `Uint8Array`                           |
 * | list / tuple      | `unknown[]` (tuples frozen)            |
 * | dict              | `Map<unknown, unknown>`                |
 * | set / frozenset   | `Set<unknown>`                         |
 * | global reference  | whatever the caller's resolver returns |
 *
 * It never executes code. A global (`GLOBAL`/`STACK_GLOBAL`) is looked up through the caller's resolver,
 * which either returns a {@link PickleFunction} (a JavaScript re-implementation of a pure data constructor
 * such as `collections.OrderedDict` or `torch._utils._rebuild_tensor_v2`), an inert {@link PyGlobal}
 * placeholder, or throws to refuse it. Calling (`REDUCE`, `NEWOBJ`) an inert placeholder builds an
 * {@link PyObject} record of the call and its state; nothing is ever invoked. Opcodes that only exist to
 * run code in ways a state dict never needs (`INST`, `OBJ`, `EXT*`, out-of-band buffers) are refused.
 */

/** A reference to `module.name` that is kept as an opaque value and never called. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * The record of "calling" an inert global: the callee, its arguments and any state/items the pickle
 * attached afterwards (`BUILD`, `SETITEMS`, `APPENDS`). Used for objects outside the state dict
 * (hyper-parameters, callbacks, numpy scalars), which are parsed only so the pickle can be read to the end.
 */
export class PyObject {
  state: unknown = undefined;
  readonly dictItems = new Map<unknown, unknown>();
  readonly listItems: unknown[] = [];
  constructor(
    readonly callee: unknown,
    readonly args: readonly unknown[],
  ) {}
}

/** A JavaScript implementation of a pure Python data constructor, allowed to be called by `REDUCE`/`NEWOBJ`. */
export class PickleFunction {
  constructor(
    readonly qualifiedName: string,
    readonly call: (args: readonly unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** Maps a global to a value; throws to refuse it. Called once per GLOBAL/STACK_GLOBAL opcode. */
  resolveGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (`BINPERSID`); torch uses it for tensor storages. */
  persistentLoad?(pid: unknown): unknown;
  /** Formats an error message with its context (file and entry). */
  fail(message: string): never;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Interprets `bytes` and returns the unpickled value. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (msg: string): never => opts.fail(`pickle offset ${pos}: ${msg}`);

  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) fail(`needs ${n} more bytes but the pickle ends at ${bytes.length} (truncated)`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large (corrupt)`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text argument (truncated)');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const str = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) fail('stack underflow (corrupt pickle)');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow (corrupt pickle)');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected (corrupt pickle)');
    return stack.splice(m!);
  };
  const push = (v: unknown): void => {
    stack.push(v);
  };
  const memoPut = (i: number): void => {
    memo.set(i, top());
  };
  const memoGet = (i: number): void => {
    if (!memo.has(i)) fail(`memo slot ${i} is empty (corrupt pickle)`);
    push(memo.get(i));
  };
  const global = (module: string, name: string): unknown => opts.resolveGlobal(module, name);
  const call = (callee: unknown, args: unknown): unknown => {
    if (!Array.isArray(args)) fail('call arguments are not a tuple (corrupt pickle)');
    if (callee instanceof PickleFunction) return callee.call(args as unknown[]);
    if (callee instanceof PyGlobal || callee instanceof PyObject) return new PyObject(callee, args as unknown[]);
    return fail(`cannot call a value of type ${describe(callee)}`);
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (kv.length % 2) fail('odd number of items for SETITEMS (corrupt pickle)');
    const dict = target instanceof Map ? target : target instanceof PyObject ? target.dictItems : fail(`SETITEM(S) on a ${describe(target)}`);
    for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    const list = Array.isArray(target) && !Object.isFrozen(target) ? target : target instanceof PyObject ? target.listItems : fail(`APPEND(S) on a ${describe(target)}`);
    for (const it of items) list.push(it);
  };
  const addItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Set)) fail(`ADDITEMS on a ${describe(target)}`);
    for (const it of items) (target as Set<unknown>).add(it);
  };
  const tuple = (items: unknown[]): unknown[] => Object.freeze(items) as unknown[];
  const signedLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textInt = (s: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) fail(`bad integer literal "${s}"`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5 is not supported');
        break;
      case 0x95: // FRAME: framing only groups opcodes; the whole pickle is already in memory
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack (corrupt pickle)`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(signedLE(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = u32();
        if (n > 1024) fail(`LONG4 of ${n} bytes is implausibly large`);
        push(signedLE(take(n)));
        break;
      }
      case 0x49: {
        // INT (text): protocol 0 also spells booleans this way
        const s = line();
        push(s === '01' ? true : s === '00' ? false : textInt(s));
        break;
      }
      case 0x4c: // LONG (text)
        push(textInt(line()));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) fail(`bad float literal "${s}"`);
        push(v);
        break;
      }
      case 0x58: // BINUNICODE
        push(str(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(str(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str; torch.load decodes these as text)
        push(latin1.decode(take(u8())));
        break;
      case 0x54: // BINSTRING
        push(latin1.decode(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x64: {
        // DICT
        const kv = popMark();
        const d = new Map();
        setItems(d, kv);
        push(d);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        addItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x70: // PUT (text)
        memoPut(Number(textInt(line())));
        break;
      case 0x68: // BINGET
        memoGet(u8());
        break;
      case 0x6a: // LONG_BINGET
        memoGet(u32());
        break;
      case 0x67: // GET (text)
        memoGet(Number(textInt(line())));
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        const name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings (corrupt pickle)');
        push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callee = pop();
        push(call(callee, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are kept with the record
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        const obj = call(cls, args);
        if (obj instanceof PyObject && kwargs instanceof Map && kwargs.size) obj.dictItems.set('__kwargs__', kwargs);
        push(obj);
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) — only recorded, never run
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        else if (!(obj instanceof Map) && (obj === null || typeof obj !== 'object')) fail(`BUILD on a ${describe(obj)}`);
        // Maps (OrderedDict `_metadata`) and tensors carry attributes a state dict does not need: dropped.
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent id found but no persistent loader given');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!opts.persistentLoad) fail('persistent id found but no persistent loader given');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
      case 0x53: // STRING (text)
      case 0x56: // UNICODE (text)
        pos = at;
        return fail(`unsupported pickle opcode 0x${op.toString(16)} ('${String.fromCharCode(op)}'): not used by torch.save state dicts`);
      default:
        pos = at;
        return fail(`unknown pickle opcode 0x${op.toString(16)} (corrupt or not a pickle)`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PickleFunction) return `function ${v.qualifiedName}`;
  if (v instanceof PyObject) return 'object';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

// A minimal WebAssembly binary encoder: the opcodes, LEB128 numbers and sections that the page's
// hand-assembled modules need (owner-wasm.ts: the ring's store and the owner's catch-up;
// ring-writer-wasm.ts: the ring's block writer; call-sampler-wasm.ts: the call's registers and the
// stack memo's recent walks over v86's memory). Each module is assembled at load
// from layout.ts's constants, so the JavaScript and the WebAssembly never disagree on a layout, with
// no build step and no dependency. Only what those modules emit is here; the binary format is the
// WebAssembly core specification's (section 5).

/** The opcodes the modules emit (core spec 5.4), by the instruction's text-format name. */
export const op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, brTable: 0x0e, return: 0x0f, void: 0x40,
  get: 0x20, set: 0x21, tee: 0x22, gget: 0x23, gset: 0x24,
  i32Load: 0x28, f64Load: 0x2b, i32Store: 0x36, f64Store: 0x39, i32Const: 0x41, f64Const: 0x44,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32LtU: 0x49, i32GtS: 0x4a, i32GtU: 0x4b, i32GeU: 0x4f,
  f64Lt: 0x63, f64Ge: 0x66, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74, i32ShrS: 0x75,
  i32ShrU: 0x76, f64Add: 0xa0, f64Eq: 0x61, f64FromU32: 0xb8, call: 0x10, f64Sub: 0xa1, f64FromI32: 0xb7, select: 0x1b,
  i64Load: 0x29, i64Const: 0x42, i64Ne: 0x52, i64Or: 0x84, i64Shl: 0x86, i64FromU32: 0xad,
} as const;

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;

/** Export and import kinds. */
export const KIND_FUNC = 0x00;
export const KIND_MEMORY = 0x02;
export const KIND_GLOBAL = 0x03;

/** The module header: magic and version 1. */
export const MODULE_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** Unsigned LEB128 of a u32. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an i32. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

/** The eight little-endian bytes of a float64 (f64.const's immediate). */
export function f64Bytes(x: number): number[] {
  return [...new Uint8Array(new Float64Array([x]).buffer)];
}

/** Section `id` with its body, length-prefixed. */
export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** A vector: its length, then its items. */
export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A name (ASCII only here). */
export function name(s: string): number[] {
  return vec([...s].map((c) => [c.charCodeAt(0)]));
}

/**
 * The custom "name" section with function names (the spec's appendix 7.4), indices counting imported
 * functions first: V8 then names the compiled code after them in profiles (--perf-basic-prof, which
 * scripts/jit-profile.mjs reads), where otherwise every module's function N is "wasm-function[N]".
 */
export function functionNames(names: [index: number, name: string][]): number[] {
  const map = vec(names.map(([index, n]) => [...uleb(index), ...name(n)]));
  return section(0, [...name("name"), 1, ...uleb(map.length), ...map]);
}

/** A function type: params and results. */
export function funcType(params: number[], results: number[]): number[] {
  return [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];
}

/** local.get, local.set and i32.const, the most common instructions, and the globals' two. */
export const get = (l: number): number[] => [op.get, l];
export const set = (l: number): number[] => [op.set, l];
export const i32 = (n: number): number[] => [op.i32Const, ...sleb(n)];
/** global.get and global.set of global `g`. */
export const gget = (g: number): number[] => [op.gget, ...uleb(g)];
export const gset = (g: number): number[] => [op.gset, ...uleb(g)];

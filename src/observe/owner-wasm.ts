// The web page's page owner in WebAssembly: its event ring and its tables in one arena, where the
// ring's entries are written and the owner's catch-up runs (present-owner.ts and event-ring.ts use
// it when they have one; live-run.ts gives them one). The page's owner applies every allocation and
// free of the run from the ring to its records, tens of thousands at a time; in JavaScript each
// event cost about 325 host instructions, most of them V8's checks around each typed-array access
// (map, detached buffer, bounds, redone on every iteration), against about 92 here
// (docs/web-speed.md). The ring and the tables live in one WebAssembly.Memory, allocated once at its
// full size and never grown, so the JavaScript views of it stay valid for the run.
//
// The module is assembled here (with wasm-encode.ts) from layout.ts's constants (two functions, a
// few hundred bytes), so the two never disagree. Its catch-up applies only the common case: an alloc
// or free whose record is in the table and consistent. Any other event (a protocol error, a free that
// matches no live block, a block not wholly in the table, an alloc on a live head) stops it, and the
// JavaScript loop applies that one event, with the same rules and errors as without the arena. A
// second module, the block writer, writes the page's allocs and frees into the ring with the hub's
// call sampler (event-ring.ts, ArenaRingWriter).

import { PAGE_SHIFT } from "../mem/constants.js";
import { HC_ALLOC_PAGES, HC_BATCH } from "../protocol/codes.js";
import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EK_KIND_MASK,
  EK_ORDER_SHIFT,
  EK_ZONE_SHIFT,
  EVENT_RING_SIZE,
  E_GFP,
  E_EIP,
  E_KIND,
  E_NPAGES,
  E_PFN,
  E_RECORD,
  E_STACK,
  E_STRIDE,
  F_ALLOC_ICOUNT,
  F_ALLOC_SEQ,
  F_FREE_ICOUNT,
  F_FREE_SEQ,
  F_STRIDE,
  I_ALLOC_STACK,
  I_FREE_STACK,
  I_GFP,
  I_NPAGES,
  I_ORDER,
  I_PFN,
  I_STRIDE,
  KIND_ALLOC,
  KIND_FREE,
  KIND_PROTOCOL_ERROR,
  OWNER_NONE,
} from "./layout.js";
import { F64, I32, KIND_FUNC, KIND_GLOBAL, KIND_MEMORY, MODULE_HEADER, f64Bytes, funcType, functionNames, get, i32, name, op, section, set, uleb, vec } from "./wasm-encode.js";

const WASM_PAGE = 65536;
const RING_INT_BYTES = EVENT_RING_SIZE * E_STRIDE * 4;
const RING_FLOAT_BYTES = EVENT_RING_SIZE * EF_STRIDE * 8;
/** Bytes of owner tables per frame: the row's ints and float64s, and the frame's row index. */
const BYTES_PER_FRAME = I_STRIDE * 4 + F_STRIDE * 8 + 4;

// Parameters and locals of apply (all i32).
const START = 0, COUNT = 1, BASE = 2, FRAMES = 3, RING_I = 4, RING_F = 5, OWN_I = 6, OWN_F = 7, ROWS = 8;
const K = 9, SLOT = 10, P = 11, PACKED = 12, KIND = 13, PFN = 14, NPAGES = 15, H = 16, I = 17, F = 18, Q = 19, LIVE = 20, ROW = 21, STOP = 22;
// Float64 locals: what the applied events changed (exact sums), kept in registers and added to the
// globals of the same names when the function returns; the caller reads and clears those.
const ALLOCATIONS = 23, FRAMES_DELTA = 24, BLOCKS = 25;
const PARAMS = 9;
const I32_LOCALS = 14;
const F64_LOCALS = 3;
const G_ALLOCATIONS = 0, G_FRAMES = 1, G_BLOCKS = 2;

const load = (base: number, field: number): number[] => [...get(base), op.i32Load, 2, ...uleb(field * 4)];
const loadF = (base: number, field: number): number[] => [...get(base), op.f64Load, 3, ...uleb(field * 8)];
/** Stores the i32 that `value` leaves at base + field. */
const store = (base: number, field: number, value: number[]): number[] => [...get(base), ...value, op.i32Store, 2, ...uleb(field * 4)];
const storeF = (base: number, field: number, value: number[]): number[] => [...get(base), ...value, op.f64Store, 3, ...uleb(field * 8)];
const add = (l: number, value: number[]): number[] => [...get(l), ...value, op.f64Add, ...set(l)];
const sub = (l: number, value: number[]): number[] => [...get(l), ...value, op.f64Sub, ...set(l)];
const one = [op.f64Const, ...f64Bytes(1)];
/**
 * Returns: the sums so far added to the globals, then the number of events applied returned (at an
 * event left to the caller, which applies event K itself, or at the end).
 */
const leave = [
  ...[[G_ALLOCATIONS, ALLOCATIONS], [G_FRAMES, FRAMES_DELTA], [G_BLOCKS, BLOCKS]].flatMap(([g, l]) => [op.gget, g!, ...get(l!), op.f64Add, op.gset, g!]),
  ...get(K),
  op.return,
];
/**
 * apply(start, count, base, frames, ringI, ringF, ownI, ownF, rows) -> events applied: ring
 * slots start, start + 1, ... (wrapping), count of them, stopping at the first it leaves to the caller.
 */
function applyBody(): number[] {
  const code = [
    ...i32(0), ...set(K),
    op.block, op.void,
    op.loop, op.void,
    ...get(K), ...get(COUNT), op.i32GeU, op.brIf, 1,
    ...get(START), ...get(K), op.i32Add, ...i32(EVENT_RING_SIZE - 1), op.i32And, ...set(SLOT),
    ...get(RING_I), ...get(SLOT), ...i32(E_STRIDE * 4), op.i32Mul, op.i32Add, ...set(P),
    ...load(P, E_KIND), op.tee, PACKED, ...i32(EK_KIND_MASK), op.i32And, op.tee, KIND,
    ...i32(KIND_FREE), op.i32GtU,
    op.if, op.void,
    // Splits, merges and the like change no record; a protocol error may be an invalid free.
    ...get(KIND), ...i32(KIND_PROTOCOL_ERROR), op.i32Eq, op.if, op.void, ...leave, op.end,
    ...get(K), ...i32(1), op.i32Add, ...set(K), op.br, 1,
    op.end,
    ...load(P, E_PFN), op.tee, PFN, ...get(BASE), op.i32Sub, op.tee, H,
    ...i32(I_STRIDE * 4), op.i32Mul, ...get(OWN_I), op.i32Add, ...set(I),
    ...get(H), ...i32(F_STRIDE * 8), op.i32Mul, ...get(OWN_F), op.i32Add, ...set(F),
    ...get(RING_F), ...get(SLOT), ...i32(EF_STRIDE * 8), op.i32Mul, op.i32Add, ...set(Q),
    ...load(P, E_NPAGES), ...set(NPAGES),
    // live: the head is in the table, holds a record, and that record's block is not freed.
    ...i32(0), ...set(LIVE),
    ...get(H), ...get(FRAMES), op.i32LtU,
    op.if, op.void,
    ...load(I, I_NPAGES), ...i32(0), op.i32GtS,
    op.if, op.void, ...loadF(F, F_FREE_SEQ), op.f64Const, ...f64Bytes(0), op.f64Lt, ...set(LIVE), op.end,
    op.end,
    ...get(KIND), ...i32(KIND_ALLOC), op.i32Eq,
    op.if, op.void,
    // The caller's: a live head, a block not wholly in the table (npages < 1 included).
    ...get(LIVE),
    ...get(H), ...get(FRAMES), op.i32GeU, op.i32Or,
    ...get(NPAGES), ...i32(1), op.i32LtS, op.i32Or,
    ...get(NPAGES), ...get(FRAMES), ...get(H), op.i32Sub, op.i32GtU, op.i32Or,
    op.if, op.void, ...leave, op.end,
    ...store(I, I_PFN, get(PFN)),
    ...store(I, I_NPAGES, get(NPAGES)),
    // orderOf: order + 1 in 8 bits, 0xff for out of range (-1).
    ...store(I, I_ORDER, [
      ...get(PACKED), ...i32(EK_ORDER_SHIFT), op.i32ShrU, ...i32(0xff), op.i32And, op.tee, ROW, ...i32(1), op.i32Sub,
      ...i32(-1), ...get(ROW), ...i32(0xff), op.i32Ne, op.select,
    ]),
    ...store(I, I_GFP, load(P, E_GFP)),
    ...store(I, I_ALLOC_STACK, load(P, E_STACK)),
    ...store(I, I_FREE_STACK, i32(OWNER_NONE)),
    ...storeF(F, F_ALLOC_SEQ, loadF(Q, EF_SEQ)),
    ...storeF(F, F_ALLOC_ICOUNT, loadF(Q, EF_ICOUNT)),
    ...storeF(F, F_FREE_SEQ, [op.f64Const, ...f64Bytes(OWNER_NONE)]),
    ...storeF(F, F_FREE_ICOUNT, [op.f64Const, ...f64Bytes(OWNER_NONE)]),
    // Every frame of the block names its head.
    ...get(ROWS), ...get(H), ...i32(4), op.i32Mul, op.i32Add, op.tee, ROW,
    ...get(NPAGES), ...i32(4), op.i32Mul, op.i32Add, ...set(STOP),
    op.loop, op.void,
    ...store(ROW, 0, get(H)),
    ...get(ROW), ...i32(4), op.i32Add, op.tee, ROW, ...get(STOP), op.i32LtU, op.brIf, 0,
    op.end,
    ...add(ALLOCATIONS, one),
    ...add(FRAMES_DELTA, [...get(NPAGES), op.f64FromI32]),
    ...add(BLOCKS, one),
    op.else,
    // A free of anything but the live block at its head, with its size, is the caller's (live first:
    // only then is the head in the table, to be read).
    ...get(LIVE), op.i32Eqz, op.if, op.void, ...leave, op.end,
    ...load(I, I_NPAGES), ...get(NPAGES), op.i32Ne, op.if, op.void, ...leave, op.end,
    ...store(I, I_FREE_STACK, load(P, E_STACK)),
    ...storeF(F, F_FREE_SEQ, loadF(Q, EF_SEQ)),
    ...storeF(F, F_FREE_ICOUNT, loadF(Q, EF_ICOUNT)),
    ...sub(FRAMES_DELTA, [...get(NPAGES), op.f64FromI32]),
    ...sub(BLOCKS, one),
    op.end,
    ...get(K), ...i32(1), op.i32Add, ...set(K), op.br, 0,
    op.end,
    op.end,
    ...leave,
    op.end,
  ];
  return [...vec([[...uleb(I32_LOCALS), I32], [...uleb(F64_LOCALS), F64]]), ...code];
}

// store(slot, packed, record, pfn, npages, gfp, stack, eip, seq, icount): one ring entry, as
// EventRing.store writes it (E_* then EF_*). Called for every event: a typed-array store costs V8
// about ten instructions of checks, a store here one.
const S_SLOT = 0, S_INTS = [E_KIND, E_RECORD, E_PFN, E_NPAGES, E_GFP, E_STACK, E_EIP], S_SEQ = 8, S_ICOUNT = 9;
const S_P = 10;

/**
 * Code that writes the ring entry of slot local `slot` (local `p` its scratch): `ints` leave the
 * i32s of S_INTS's fields in that order, `seq` and `icount` the two float64s. store and the block
 * writer both write an entry with it.
 */
function writeEntry(slot: number, p: number, ints: number[][], seq: number[], icount: number[]): number[] {
  return [
    ...get(slot), ...i32(E_STRIDE * 4), op.i32Mul, ...set(p),
    ...S_INTS.flatMap((field, k) => [...get(p), ...ints[k]!, op.i32Store, 2, ...uleb(field * 4)]),
    ...get(slot), ...i32(EF_STRIDE * 8), op.i32Mul, ...set(p),
    ...get(p), ...seq, op.f64Store, 3, ...uleb(RING_INT_BYTES + EF_SEQ * 8),
    ...get(p), ...icount, op.f64Store, 3, ...uleb(RING_INT_BYTES + EF_ICOUNT * 8),
  ];
}

function storeBody(): number[] {
  const code = [...writeEntry(S_SLOT, S_P, S_INTS.map((_, k) => get(1 + k)), get(S_SEQ), get(S_ICOUNT)), op.end];
  return [...vec([[1, I32]]), ...code];
}

/** The module's bytes: memory imported as env.memory; exports apply, store and apply's three counters. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const applyType = funcType(Array.from({ length: PARAMS }, () => I32), [I32]);
  const storeType = funcType([...Array.from({ length: 1 + S_INTS.length }, () => I32), F64, F64], []);
  const bodies = [applyBody(), storeBody()];
  const global = [F64, 1, op.f64Const, ...f64Bytes(0), op.end];
  return new Uint8Array([
    ...MODULE_HEADER,
    ...section(1, vec([applyType, storeType])),
    ...section(2, vec([[...name("env"), ...name("memory"), KIND_MEMORY, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1]])),
    ...section(6, vec([global, global, global])),
    ...section(7, vec([
      [...name("apply"), KIND_FUNC, 0],
      [...name("store"), KIND_FUNC, 1],
      [...name("allocations"), KIND_GLOBAL, G_ALLOCATIONS],
      [...name("frames"), KIND_GLOBAL, G_FRAMES],
      [...name("blocks"), KIND_GLOBAL, G_BLOCKS],
    ])),
    ...section(10, vec(bodies.map((body) => [...uleb(body.length), ...body]))),
    ...functionNames([[0, "owner_apply"], [1, "ring_store"]]),
  ]);
}

// block(slot, packed, record, pfn, npages, gfp, seq) -> 1 when it wrote ring slot `slot`, 0 when it
// left the event to the caller. It samples call seq and finds its backtrace with the hub's call
// sampler (its sampleStack and the globals it fills, imported from its instance, call-sampler-wasm.ts)
// and writes the entry as store does, with the sampler's EIP, instruction count and stack; a stack
// the sampler does not know (no recent walk, paging on) leaves the event to the caller. A record of
// RECORD_FROM_COMMAND means the hub has not sampled the call: the record is then 0 for a BATCH (its
// first) and -1 for any other command.
const B_SLOT = 0, B_PACKED = 1, B_RECORD = 2, B_PFN = 3, B_NPAGES = 4, B_GFP = 5, B_SEQ = 6, B_P = 7, B_STACK = 8;
const BG_EIP = 0, BG_ICOUNT = 1, BG_CMD = 2, BG_BASE_PFN = 3, BG_DMA_END = 4, BG_NORMAL_END = 5;
const BF_SAMPLE_STACK = 0, BF_BLOCK = 1, BF_REQUEST = 2, BF_ZONES = 3;

/**
 * The writer's common tail: samples call `seq`, leaves (returning 0) when the sampler knows no stack
 * for it, else writes the entry of `slot` and returns 1. Each argument is the code of one value;
 * `stack` and `p` are scratch locals.
 */
function sampledEntry(slot: number, p: number, stack: number, seq: number, record: number[], ints: { packed: number[]; pfn: number[]; npages: number[]; gfp: number[] }): number[] {
  return [
    ...get(seq), op.call, BF_SAMPLE_STACK, op.tee, stack, ...i32(0), op.i32LtS, op.if, op.void, ...i32(0), op.return, op.end,
    ...writeEntry(slot, p, [ints.packed, record, ints.pfn, ints.npages, ints.gfp, get(stack), [op.gget, BG_EIP]], get(seq), [op.gget, BG_ICOUNT]),
    ...i32(1),
    op.end,
  ];
}

function blockBody(): number[] {
  // record === RECORD_FROM_COMMAND ? (the sampled command is HC_BATCH ? 0 : -1) : record
  const record = [
    ...i32(0), ...i32(-1), op.gget, BG_CMD, ...i32(HC_BATCH), op.i32Eq, op.select,
    ...get(B_RECORD),
    ...get(B_RECORD), ...i32(RECORD_FROM_COMMAND), op.i32Eq, op.select,
  ];
  const ints = { packed: get(B_PACKED), pfn: get(B_PFN), npages: get(B_NPAGES), gfp: get(B_GFP) };
  return [...vec([[2, I32]]), ...sampledEntry(B_SLOT, B_P, B_STACK, B_SEQ, record, ints)];
}

// request(slot, cmd, arg0, arg1, result, seq) -> as block: the block of a page request that ended OK
// (an alloc_pages or free_pages call, not a BATCH record, so its record is -1), from the call's own
// numbers, with its zone from the bounds zones(basePfn, dmaEndIdx, normalEndIdx) set
// (BuddyAllocator.zoneOf's). The hub calls it from onCall: a page request costs it one WebAssembly
// call (event-ring.ts, ArenaRingWriter).
const R_SLOT = 0, R_CMD = 1, R_ARG0 = 2, R_ARG1 = 3, R_RESULT = 4, R_SEQ = 5, R_PFN = 6, R_ORDER = 7, R_GFP = 8, R_CODE = 9, R_IDX = 10, R_P = 11, R_STACK = 12;

function requestBody(): number[] {
  const decode = [
    ...get(R_CMD), ...i32(HC_ALLOC_PAGES), op.i32Eq,
    op.if, op.void,
    ...get(R_RESULT), ...i32(PAGE_SHIFT), op.i32ShrU, ...set(R_PFN),
    ...get(R_ARG0), ...set(R_ORDER), ...get(R_ARG1), ...set(R_GFP), ...i32(KIND_ALLOC), ...set(R_CODE),
    op.else,
    ...get(R_ARG0), ...i32(PAGE_SHIFT), op.i32ShrU, ...set(R_PFN),
    ...get(R_ARG1), ...set(R_ORDER), ...i32(-1), ...set(R_GFP), ...i32(KIND_FREE), ...set(R_CODE),
    op.end,
    ...get(R_PFN), op.gget, BG_BASE_PFN, op.i32Sub, ...set(R_IDX),
  ];
  // packBlock(code, order, zone), zone + 1 as 3 - (idx < normalEnd) - (idx < dmaEnd) (zoneOf's
  // bounds, dmaEnd <= normalEnd): 1 below dmaEnd, 2 below normalEnd, else 3.
  const packed = [
    ...get(R_CODE), ...get(R_ORDER), ...i32(1), op.i32Add, ...i32(EK_ORDER_SHIFT), op.i32Shl, op.i32Or,
    ...i32(3), ...get(R_IDX), op.gget, BG_NORMAL_END, op.i32LtS, op.i32Sub,
    ...get(R_IDX), op.gget, BG_DMA_END, op.i32LtS, op.i32Sub,
    ...i32(EK_ZONE_SHIFT), op.i32Shl, op.i32Or,
  ];
  const ints = { packed, pfn: get(R_PFN), npages: [...i32(1), ...get(R_ORDER), op.i32Shl], gfp: get(R_GFP) };
  return [...vec([[7, I32]]), ...decode, ...sampledEntry(R_SLOT, R_P, R_STACK, R_SEQ, i32(-1), ints)];
}

function zonesBody(): number[] {
  return [...vec([]), ...get(0), op.gset, BG_BASE_PFN, ...get(1), op.gset, BG_DMA_END, ...get(2), op.gset, BG_NORMAL_END, op.end];
}

function blockWriterBytes(): Uint8Array<ArrayBuffer> {
  const sampleStackType = funcType([F64], [I32]);
  const blockType = funcType([I32, I32, I32, I32, I32, I32, F64], [I32]);
  const requestType = funcType([I32, I32, I32, I32, I32, F64], [I32]);
  const zonesType = funcType([I32, I32, I32], []);
  const bodies = [blockBody(), requestBody(), zonesBody()];
  const global = (field: string, type: number): number[] => [...name("sampler"), ...name(field), KIND_GLOBAL, type, 1];
  const zoneBound = [I32, 1, ...i32(0), op.end];
  return new Uint8Array([
    ...MODULE_HEADER,
    ...section(1, vec([sampleStackType, blockType, requestType, zonesType])),
    ...section(2, vec([
      [...name("env"), ...name("memory"), KIND_MEMORY, 0x00, ...uleb(0)],
      [...name("sampler"), ...name("sampleStack"), KIND_FUNC, 0],
      global("eip", I32), global("icount", F64), global("cmd", I32),
    ])),
    ...section(3, vec([[1], [2], [3]])),
    ...section(6, vec([zoneBound, zoneBound, zoneBound])),
    ...section(7, vec([[...name("block"), KIND_FUNC, BF_BLOCK], [...name("request"), KIND_FUNC, BF_REQUEST], [...name("zones"), KIND_FUNC, BF_ZONES]])),
    ...section(10, vec(bodies.map((body) => [...uleb(body.length), ...body]))),
    ...functionNames([[BF_BLOCK, "ring_block_writer"], [BF_REQUEST, "ring_request_writer"], [BF_ZONES, "ring_writer_zones"]]),
  ]);
}

/** The block writer's record argument for a call the hub has not sampled (see blockWriterBytes). */
export const RECORD_FROM_COMMAND = -2;

/** Writes one alloc or free into the ring, sampled by the hub's call sampler (blockWriterBytes); 0: not written. */
export type BlockWriter = (slot: number, packed: number, record: number, pfn: number, npages: number, gfp: number, seq: number) => number;

/** Writes the block of a page request that ended OK (requestBody); 0: not written. */
export type RequestWriter = (slot: number, cmd: number, arg0: number, arg1: number, result: number, seq: number) => number;

/** The block writer's functions (blockWriterBytes): block, request and zones. */
export interface BlockWriterExports {
  block: BlockWriter;
  request: RequestWriter;
  zones(basePfn: number, dmaEndIdx: number, normalEndIdx: number): void;
}

let writerModule: WebAssembly.Module | null = null;
let compiled: WebAssembly.Module | null = null;

/** Writes ring slot `slot`'s entry (owner-wasm's store; EventRing calls it for every event). */
export type RingStore = (slot: number, packed: number, record: number, pfn: number, npages: number, gfp: number, stack: number, eip: number, seq: number, icount: number) => void;

type ApplyFn = (start: number, count: number, base: number, frames: number, ringI: number, ringF: number, ownI: number, ownF: number, rows: number) => number;

/**
 * One run's event ring and present-owner tables in one WebAssembly.Memory, with the catch-up that
 * reads the one into the other. Sized once for `maxFrames` frames of table.
 */
export class OwnerArena {
  readonly ringInts: Int32Array;
  readonly ringFloats: Float64Array;
  /** Writes one ring entry into ringInts and ringFloats. */
  readonly ringStore: RingStore;
  readonly maxFrames: number;
  private readonly memory: WebAssembly.Memory;
  private readonly run: ApplyFn;
  private readonly counters: WebAssembly.Global[];
  private tablesTaken = false;
  private ownI = 0;
  private ownF = 0;
  private rows = 0;

  /**
   * An arena for up to maxFrames frames; null where WebAssembly is not available or will not give
   * the memory (up to 66 MiB, reserved at once): the owner then keeps its tables in JavaScript.
   */
  static create(maxFrames: number): OwnerArena | null {
    if (typeof WebAssembly !== "object") return null;
    if (!(Number.isInteger(maxFrames) && maxFrames >= 0 && maxFrames <= 2 ** 20)) throw new Error(`invariant: owner arena of ${maxFrames} frames`);
    const pages = Math.ceil((RING_INT_BYTES + RING_FLOAT_BYTES + maxFrames * BYTES_PER_FRAME) / WASM_PAGE);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    } catch (error) {
      if (error instanceof RangeError) return null;
      throw error;
    }
    compiled ??= new WebAssembly.Module(moduleBytes());
    return new OwnerArena(compiled, memory, maxFrames);
  }

  private constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, maxFrames: number) {
    this.maxFrames = maxFrames;
    this.memory = memory;
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    const e = instance.exports as { apply: ApplyFn; store: RingStore; allocations: WebAssembly.Global; frames: WebAssembly.Global; blocks: WebAssembly.Global };
    this.run = e.apply;
    this.ringStore = e.store;
    this.counters = [e.allocations, e.frames, e.blocks];
    const buffer = this.memory.buffer;
    this.ringInts = new Int32Array(buffer, 0, EVENT_RING_SIZE * E_STRIDE);
    this.ringFloats = new Float64Array(buffer, RING_INT_BYTES, EVENT_RING_SIZE * EF_STRIDE);
  }

  /** The block writer over this arena's ring, sampling with a call sampler's exports (CallSampler.exports). */
  blockWriter(sampler: WebAssembly.Exports): BlockWriterExports {
    writerModule ??= new WebAssembly.Module(blockWriterBytes());
    const instance = new WebAssembly.Instance(writerModule, { env: { memory: this.memory }, sampler: sampler as WebAssembly.ModuleImports });
    return instance.exports as unknown as BlockWriterExports;
  }

  /**
   * The owner's tables for `frames` frames (zeroed; each frame's row index OWNER_NONE), or null when
   * they do not fit. Taken once.
   */
  tables(frames: number): { ints: Int32Array<ArrayBuffer>; nums: Float64Array<ArrayBuffer>; frameRow: Int32Array<ArrayBuffer> } | null {
    if (this.tablesTaken) throw new Error("invariant: an owner arena's tables were taken twice");
    if (frames > this.maxFrames) return null;
    this.tablesTaken = true;
    const buffer = this.memory.buffer;
    // Float64s first: their offset stays a multiple of 8. The frame rows before the ints: a stray
    // write past the rows' end would land in a record, where the tests compare every one.
    this.ownF = RING_INT_BYTES + RING_FLOAT_BYTES;
    this.rows = this.ownF + frames * F_STRIDE * 8;
    this.ownI = this.rows + frames * 4;
    const frameRow = new Int32Array(buffer, this.rows, frames).fill(OWNER_NONE);
    return { ints: new Int32Array(buffer, this.ownI, frames * I_STRIDE), nums: new Float64Array(buffer, this.ownF, frames * F_STRIDE), frameRow };
  }

  /**
   * Applies ring events from event number `from` (count of them, at most the ring's size) to the
   * tables; returns how many it applied before the first it leaves to the caller (count if none).
   */
  apply(from: number, count: number, basePfn: number, frames: number): number {
    return this.run(from & (EVENT_RING_SIZE - 1), count, basePfn | 0, frames, 0, RING_INT_BYTES, this.ownI, this.ownF, this.rows);
  }

  /** What the applied events added to the allocations, live frames and live blocks, then zeroes them. */
  takeCounters(): [number, number, number] {
    const c = this.counters;
    const out: [number, number, number] = [c[0]!.value as number, c[1]!.value as number, c[2]!.value as number];
    for (const g of c) g.value = 0;
    return out;
  }
}

// The web page's block writer in WebAssembly, and the code that writes the owner arena's memory
// (owner-wasm.ts): a ring entry (writeEntry, which the arena's store also runs) and an owner
// record (allocRow, freeRow, which the arena's catch-up also runs). The writer samples a page
// request with the hub's call sampler (call-sampler-wasm.ts), finds its backtrace, writes its ring
// entry and, while the owner has every earlier event applied, applies it to the owner's records at
// once, so that the catch-up has nothing left to read back for it (docs/web-speed.md). An event it
// cannot apply (the owner's tables not yet there, an earlier event still waiting, a record the
// common case does not cover) it leaves to the catch-up, which then applies it in order.
//
// The arena's memory: the ring's ints, its float64s, the control words (CONTROL_*), and the owner's
// tables (float64s, frame rows, ints). The control words are the writer's to read at fixed
// addresses, one load each where a global costs two: the owner-pending word (nonzero while an
// alloc, free or protocol error waits for the catch-up: the writer applies nothing then), the
// tables' offsets (0 rows until the owner has them), and what the events applied by the writer and
// by the catch-up added to the owner's counts since the owner last took them (i32s: it takes them
// at every catch-up, which comes at least every half ring). After them, the ring's count and due
// mark (CONTROL_COUNTS): the writers count each entry they write and flag the one at the mark.

import { PAGE_SHIFT } from "../mem/constants.js";
import { HC_ALLOC_PAGES, HC_BATCH } from "../protocol/codes.js";
import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EK_ORDER_SHIFT,
  EK_ZONE_SHIFT,
  EVENT_RING_SIZE,
  E_EIP,
  E_GFP,
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
  OWNER_NONE,
} from "./layout.js";
import { F64, I32, KIND_FUNC, KIND_GLOBAL, KIND_MEMORY, MODULE_HEADER, f64Bytes, funcType, functionNames, get, gget, gset, i32, name, op, section, set, uleb, vec } from "./wasm-encode.js";

export const RING_INT_BYTES = EVENT_RING_SIZE * E_STRIDE * 4;
export const RING_FLOAT_BYTES = EVENT_RING_SIZE * EF_STRIDE * 8;
/** The control words' byte offset, and each word's index (i32s). */
export const CONTROL = RING_INT_BYTES + RING_FLOAT_BYTES;
export const CONTROL_PENDING = 0;
export const CONTROL_OWN_I = 1, CONTROL_OWN_F = 2, CONTROL_ROWS = 3, CONTROL_FRAMES = 4;
export const CONTROL_ALLOCATIONS = 5, CONTROL_LIVE_FRAMES = 6, CONTROL_BLOCKS = 7;
export const CONTROL_WORDS = 8;
/**
 * The ring's count and its due mark, two float64s after the control words (EventRing.total and
 * dueAt): the writers count each entry they write and tell the caller when its number reached the
 * mark, so a page request's entry costs JavaScript no call of the ring's.
 */
export const CONTROL_COUNTS = CONTROL + 32;
/** Where the owner's tables start (8-aligned, after the control words). */
export const TABLES_OFFSET = CONTROL + 64;

const S_INTS = [E_KIND, E_RECORD, E_PFN, E_NPAGES, E_GFP, E_STACK, E_EIP];

/**
 * Code that writes the ring entry of slot local `slot` (local `p` its scratch): `ints` leave the
 * i32s of E_KIND, E_RECORD, E_PFN, E_NPAGES, E_GFP, E_STACK and E_EIP in that order, `seq` and
 * `icount` the two float64s. The arena's store and the block writer both write an entry with it.
 */
export function writeEntry(slot: number, p: number, ints: number[][], seq: number[], icount: number[]): number[] {
  return [
    ...get(slot), ...i32(E_STRIDE * 4), op.i32Mul, ...set(p),
    ...S_INTS.flatMap((field, k) => [...get(p), ...ints[k]!, op.i32Store, 2, ...uleb(field * 4)]),
    ...get(slot), ...i32(EF_STRIDE * 8), op.i32Mul, ...set(p),
    ...get(p), ...seq, op.f64Store, 3, ...uleb(RING_INT_BYTES + EF_SEQ * 8),
    ...get(p), ...icount, op.f64Store, 3, ...uleb(RING_INT_BYTES + EF_ICOUNT * 8),
  ];
}

const store = (base: number, field: number, value: number[]): number[] => [...get(base), ...value, op.i32Store, 2, ...uleb(field * 4)];
const storeF = (base: number, field: number, value: number[]): number[] => [...get(base), ...value, op.f64Store, 3, ...uleb(field * 8)];
/** Code leaving the i32 at field `field` of the row whose byte address local `base` holds. */
export const load = (base: number, field: number): number[] => [...get(base), op.i32Load, 2, ...uleb(field * 4)];
const none = [op.f64Const, ...f64Bytes(OWNER_NONE)];

/**
 * Code leaving 1 when head index local `h` (already known to be inside the table) holds a live
 * record: its I_NPAGES > 0 and its free not yet recorded. `i` and `f` are the row's addresses.
 */
export function liveHead(i: number, f: number): number[] {
  return [
    ...load(i, I_NPAGES), ...i32(0), op.i32GtS,
    op.if, I32, ...get(f), op.f64Load, 3, ...uleb(F_FREE_SEQ * 8), op.f64Const, ...f64Bytes(0), op.f64Lt, op.else, ...i32(0), op.end,
  ];
}

/**
 * Code that records an allocation in the row at `i` (ints) and `f` (float64s) of head index local
 * `h`, and names h in the frame rows of its npages frames (from the byte address local `row`
 * leaves, with `stop` scratch). Each value argument is the code of one value.
 */
export function allocRow(
  at: { i: number; f: number; h: number; row: number; stop: number },
  v: { pfn: number[]; npages: number[]; order: number[]; gfp: number[]; stack: number[]; seq: number[]; icount: number[] },
): number[] {
  const { i, f, h, row, stop } = at;
  return [
    ...store(i, I_PFN, v.pfn),
    ...store(i, I_NPAGES, v.npages),
    ...store(i, I_ORDER, v.order),
    ...store(i, I_GFP, v.gfp),
    ...store(i, I_ALLOC_STACK, v.stack),
    ...store(i, I_FREE_STACK, i32(OWNER_NONE)),
    ...storeF(f, F_ALLOC_SEQ, v.seq),
    ...storeF(f, F_ALLOC_ICOUNT, v.icount),
    ...storeF(f, F_FREE_SEQ, none),
    ...storeF(f, F_FREE_ICOUNT, none),
    // Every frame of the block names its head (the caller checked that they are all in the table).
    ...get(row), ...v.npages, ...i32(4), op.i32Mul, op.i32Add, ...set(stop),
    op.loop, op.void,
    ...store(row, 0, get(h)),
    ...get(row), ...i32(4), op.i32Add, op.tee, row, ...get(stop), op.i32LtU, op.brIf, 0,
    op.end,
  ];
}

/** Code that records the free of the live record in the row at `i` and `f`. */
export function freeRow(i: number, f: number, v: { stack: number[]; seq: number[]; icount: number[] }): number[] {
  return [...store(i, I_FREE_STACK, v.stack), ...storeF(f, F_FREE_SEQ, v.seq), ...storeF(f, F_FREE_ICOUNT, v.icount)];
}

/** Code leaving control word `k`, and code adding `delta` (the code of an i32) to it. */
const control = (k: number): number[] => [...i32(0), op.i32Load, 2, ...uleb(CONTROL + 4 * k)];
export const addTo = (k: number, delta: number[]): number[] => [...i32(0), ...control(k), ...delta, op.i32Add, op.i32Store, 2, ...uleb(CONTROL + 4 * k)];

// block(slot, packed, record, pfn, npages, gfp, seq) -> WRITTEN_PENDING when it wrote ring slot
// `slot`, 0 when it left the event to the caller. It samples call seq and finds its backtrace with
// the hub's call sampler (its sampleStack and the globals it fills) and writes the entry as the
// arena's store does, with the sampler's EIP, instruction count and stack; a stack the sampler does
// not know (no recent walk, paging on) leaves the event to the caller. A record of
// RECORD_FROM_COMMAND means the hub has not sampled the call: the record is then 0 for a BATCH (its
// first) and -1 for any other command. It applies nothing to the owner (BATCH records come here).
const B_SLOT = 0, B_PACKED = 1, B_RECORD = 2, B_PFN = 3, B_NPAGES = 4, B_GFP = 5, B_SEQ = 6, B_P = 7, B_STACK = 8;
// Globals: the sampler's three imports and the zone bounds (zones).
const BG_EIP = 0, BG_ICOUNT = 1, BG_CMD = 2, BG_BASE_PFN = 3, BG_DMA_END = 4, BG_NORMAL_END = 5;
const BF_SAMPLE_STACK = 0, BF_BLOCK = 1, BF_REQUEST = 2, BF_ZONES = 3;

/**
 * What block and request return: 0, the event left to the caller; else written, and applied to the
 * owner or not, with WRITTEN_DUE added when the entry's number reached the ring's due mark (the ring
 * then has its rare work to do: EventRing.afterWritten).
 */
export const WRITTEN_APPLIED = 1;
export const WRITTEN_PENDING = 2;
export const WRITTEN_DUE = 4;

/**
 * The writer's common part: samples call `seq`, leaves (returning 0) when the sampler knows no stack
 * for it, else writes the entry of `slot` and runs `then`, which returns. Each argument is the code
 * of one value; `stack` and `p` are scratch locals.
 */
function sampledEntry(slot: number, p: number, stack: number, seq: number, record: number[], ints: { packed: number[]; pfn: number[]; npages: number[]; gfp: number[] }, then: number[]): number[] {
  const total = [...i32(0), op.f64Load, 3, ...uleb(CONTROL_COUNTS)];
  return [
    ...get(seq), op.call, BF_SAMPLE_STACK, op.tee, stack, ...i32(0), op.i32LtS, op.if, op.void, ...i32(0), op.return, op.end,
    ...writeEntry(slot, p, [ints.packed, record, ints.pfn, ints.npages, ints.gfp, get(stack), [op.gget, BG_EIP]], get(seq), [op.gget, BG_ICOUNT]),
    // Counted: p (free now) becomes WRITTEN_DUE when the entry's number reached the due mark, 0
    // otherwise, and every result of `then` adds it.
    ...i32(WRITTEN_DUE), ...i32(0), ...total, ...i32(0), op.f64Load, 3, ...uleb(CONTROL_COUNTS + 8), op.f64Ge, op.select, ...set(p),
    ...i32(0), ...total, op.f64Const, ...f64Bytes(1), op.f64Add, op.f64Store, 3, ...uleb(CONTROL_COUNTS),
    ...then,
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
  return [...vec([[2, I32]]), ...sampledEntry(B_SLOT, B_P, B_STACK, B_SEQ, record, ints, [...i32(WRITTEN_PENDING), ...get(B_P), op.i32Or])];
}

// request(slot, cmd, arg0, arg1, result, seq) -> as block: the block of a page request that ended OK
// (an alloc_pages or free_pages call, not a BATCH record, so its record is -1), from the call's own
// numbers, with its zone from the bounds zones(basePfn, dmaEndIdx, normalEndIdx) set
// (BuddyAllocator.zoneOf's). Written, it is applied to the owner's records when the owner has its
// tables, no earlier event waits for the catch-up and the record is the common case (the catch-up's
// rules: an alloc at a head not live, wholly in the table; a free of the live block at its head,
// with its size): WRITTEN_APPLIED; else WRITTEN_PENDING, left to the catch-up. The hub calls it from
// onCall: a page request costs it one WebAssembly call (event-ring.ts, ArenaRingWriter).
const R_SLOT = 0, R_CMD = 1, R_ARG0 = 2, R_ARG1 = 3, R_RESULT = 4, R_SEQ = 5, R_PFN = 6, R_ORDER = 7, R_GFP = 8, R_CODE = 9, R_IDX = 10, R_P = 11, R_STACK = 12;
const R_I = 13, R_F = 14, R_ROW = 15, R_STOP = 16;

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
  const npages = [...i32(1), ...get(R_ORDER), op.i32Shl];
  const pending = [...i32(WRITTEN_PENDING), ...get(R_P), op.i32Or, op.return];
  const apply = [
    // No tables yet, or an earlier event waits: the catch-up's.
    ...control(CONTROL_ROWS), op.i32Eqz, ...control(CONTROL_PENDING), op.i32Or, op.if, op.void, ...pending, op.end,
    // The tables index frames as the allocator does (idx, from the zones' basePfn: the owner's tables
    // are the hub's allocator's, as are the zones, ArenaRingWriter.forRequests).
    ...get(R_IDX), ...control(CONTROL_FRAMES), op.i32GeU, op.if, op.void, ...pending, op.end,
    ...get(R_IDX), ...i32(I_STRIDE * 4), op.i32Mul, ...control(CONTROL_OWN_I), op.i32Add, ...set(R_I),
    ...get(R_IDX), ...i32(F_STRIDE * 8), op.i32Mul, ...control(CONTROL_OWN_F), op.i32Add, ...set(R_F),
    ...get(R_CODE), ...i32(KIND_ALLOC), op.i32Eq,
    op.if, op.void,
    // A live head, or a block past the table's end: the catch-up's.
    ...liveHead(R_I, R_F), ...npages, ...control(CONTROL_FRAMES), ...get(R_IDX), op.i32Sub, op.i32GtU, op.i32Or, op.if, op.void, ...pending, op.end,
    ...control(CONTROL_ROWS), ...get(R_IDX), ...i32(4), op.i32Mul, op.i32Add, ...set(R_ROW),
    ...allocRow({ i: R_I, f: R_F, h: R_IDX, row: R_ROW, stop: R_STOP }, {
      pfn: get(R_PFN), npages, order: get(R_ORDER), gfp: get(R_GFP), stack: get(R_STACK), seq: get(R_SEQ), icount: gget(BG_ICOUNT),
    }),
    ...addTo(CONTROL_ALLOCATIONS, i32(1)),
    ...addTo(CONTROL_LIVE_FRAMES, npages),
    ...addTo(CONTROL_BLOCKS, i32(1)),
    op.else,
    // Anything but the free of the live block at its head, with its size: the catch-up's.
    ...liveHead(R_I, R_F), op.i32Eqz, ...load(R_I, I_NPAGES), ...npages, op.i32Ne, op.i32Or, op.if, op.void, ...pending, op.end,
    ...freeRow(R_I, R_F, { stack: get(R_STACK), seq: get(R_SEQ), icount: gget(BG_ICOUNT) }),
    ...addTo(CONTROL_LIVE_FRAMES, [...i32(0), ...npages, op.i32Sub]),
    ...addTo(CONTROL_BLOCKS, i32(-1)),
    op.end,
    ...i32(WRITTEN_APPLIED), ...get(R_P), op.i32Or,
  ];
  const ints = { packed, pfn: get(R_PFN), npages, gfp: get(R_GFP) };
  return [...vec([[11, I32]]), ...decode, ...sampledEntry(R_SLOT, R_P, R_STACK, R_SEQ, i32(-1), ints, apply)];
}

function zonesBody(): number[] {
  return [...vec([]), ...get(0), ...gset(BG_BASE_PFN), ...get(1), ...gset(BG_DMA_END), ...get(2), ...gset(BG_NORMAL_END), op.end];
}

/** The writer module's bytes: imports env.memory (the arena's) and the sampler's sampleStack and globals. */
export function blockWriterBytes(): Uint8Array<ArrayBuffer> {
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

/** The block writer's record argument for a call the hub has not sampled (see blockBody). */
export const RECORD_FROM_COMMAND = -2;

/** Writes one alloc or free into the ring, sampled by the hub's call sampler (blockBody); 0: not written. */
export type BlockWriter = (slot: number, packed: number, record: number, pfn: number, npages: number, gfp: number, seq: number) => number;

/** Writes the block of a page request that ended OK (requestBody); 0: not written. */
export type RequestWriter = (slot: number, cmd: number, arg0: number, arg1: number, result: number, seq: number) => number;

/** The block writer's exports (blockWriterBytes). */
export interface BlockWriterExports {
  block: BlockWriter;
  request: RequestWriter;
  zones(basePfn: number, dmaEndIdx: number, normalEndIdx: number): void;
}

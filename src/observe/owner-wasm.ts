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
// second module, the block writer (ring-writer-wasm.ts), writes the page's allocs and frees into the
// ring with the hub's call sampler, and applies a page request's own at once while nothing waits for
// the catch-up (the owner-pending word): the catch-up then skips those (present-owner.ts).

import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EK_KIND_MASK,
  EK_ORDER_SHIFT,
  EVENT_RING_SIZE,
  E_GFP,
  E_KIND,
  E_NPAGES,
  E_PFN,
  E_STACK,
  E_STRIDE,
  F_STRIDE,
  I_NPAGES,
  I_STRIDE,
  KIND_ALLOC,
  KIND_FREE,
  KIND_PROTOCOL_ERROR,
  OWNER_NONE,
} from "./layout.js";
import {
  CONTROL,
  CONTROL_ALLOCATIONS,
  CONTROL_BLOCKS,
  CONTROL_COUNTS,
  CONTROL_LIVE_FRAMES,
  CONTROL_FRAMES,
  CONTROL_OWN_F,
  CONTROL_OWN_I,
  CONTROL_PENDING,
  CONTROL_ROWS,
  CONTROL_WORDS,
  RING_INT_BYTES,
  TABLES_OFFSET,
  addTo,
  allocRow,
  blockWriterBytes,
  freeRow,
  liveHead,
  load,
  writeEntry,
  type BlockWriterExports,
} from "./ring-writer-wasm.js";
import { F64, I32, KIND_FUNC, KIND_MEMORY, MODULE_HEADER, funcType, functionNames, get, i32, name, op, section, set, uleb, vec } from "./wasm-encode.js";

const WASM_PAGE = 65536;
/** Bytes of owner tables per frame: the row's ints and float64s, and the frame's row index. */
const BYTES_PER_FRAME = I_STRIDE * 4 + F_STRIDE * 8 + 4;

// Parameters and locals of apply (all i32).
const START = 0, COUNT = 1, BASE = 2, FRAMES = 3, RING_I = 4, RING_F = 5, OWN_I = 6, OWN_F = 7, ROWS = 8;
const K = 9, SLOT = 10, P = 11, PACKED = 12, KIND = 13, PFN = 14, NPAGES = 15, H = 16, I = 17, F = 18, Q = 19, LIVE = 20, ROW = 21, STOP = 22;
// What the applied events changed, kept in registers and added to the control words of the same
// names (ring-writer-wasm.ts, where the block writer counts too) when the function returns.
const ALLOCATIONS = 23, FRAMES_DELTA = 24, BLOCKS = 25;
const PARAMS = 9;
const LOCALS = 17;

const loadF = (base: number, field: number): number[] => [...get(base), op.f64Load, 3, ...uleb(field * 8)];
const add = (l: number, value: number[]): number[] => [...get(l), ...value, op.i32Add, ...set(l)];
const sub = (l: number, value: number[]): number[] => [...get(l), ...value, op.i32Sub, ...set(l)];
const one = i32(1);
/**
 * Returns: the sums so far added to the control words, then the number of events applied returned
 * (at an event left to the caller, which applies event K itself, or at the end).
 */
const leave = [
  ...[[CONTROL_ALLOCATIONS, ALLOCATIONS], [CONTROL_LIVE_FRAMES, FRAMES_DELTA], [CONTROL_BLOCKS, BLOCKS]].flatMap(([k, l]) => addTo(k!, get(l!))),
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
    ...get(H), ...get(FRAMES), op.i32LtU, op.if, I32, ...liveHead(I, F), op.else, ...i32(0), op.end, ...set(LIVE),
    ...get(KIND), ...i32(KIND_ALLOC), op.i32Eq,
    op.if, op.void,
    // The caller's: a live head, a block not wholly in the table (npages < 1 included).
    ...get(LIVE),
    ...get(H), ...get(FRAMES), op.i32GeU, op.i32Or,
    ...get(NPAGES), ...i32(1), op.i32LtS, op.i32Or,
    ...get(NPAGES), ...get(FRAMES), ...get(H), op.i32Sub, op.i32GtU, op.i32Or,
    op.if, op.void, ...leave, op.end,
    ...get(ROWS), ...get(H), ...i32(4), op.i32Mul, op.i32Add, ...set(ROW),
    ...allocRow({ i: I, f: F, h: H, row: ROW, stop: STOP }, {
      pfn: get(PFN),
      npages: get(NPAGES),
      // orderOf: order + 1 in 8 bits, 0xff for out of range (-1).
      order: [
        ...get(PACKED), ...i32(EK_ORDER_SHIFT), op.i32ShrU, ...i32(0xff), op.i32And, op.tee, STOP, ...i32(1), op.i32Sub,
        ...i32(-1), ...get(STOP), ...i32(0xff), op.i32Ne, op.select,
      ],
      gfp: load(P, E_GFP),
      stack: load(P, E_STACK),
      seq: loadF(Q, EF_SEQ),
      icount: loadF(Q, EF_ICOUNT),
    }),
    ...add(ALLOCATIONS, one),
    ...add(FRAMES_DELTA, get(NPAGES)),
    ...add(BLOCKS, one),
    op.else,
    // A free of anything but the live block at its head, with its size, is the caller's (live first:
    // only then is the head in the table, to be read).
    ...get(LIVE), op.i32Eqz, op.if, op.void, ...leave, op.end,
    ...load(I, I_NPAGES), ...get(NPAGES), op.i32Ne, op.if, op.void, ...leave, op.end,
    ...freeRow(I, F, { stack: load(P, E_STACK), seq: loadF(Q, EF_SEQ), icount: loadF(Q, EF_ICOUNT) }),
    ...sub(FRAMES_DELTA, get(NPAGES)),
    ...sub(BLOCKS, one),
    op.end,
    ...get(K), ...i32(1), op.i32Add, ...set(K), op.br, 0,
    op.end,
    op.end,
    ...leave,
    op.end,
  ];
  return [...vec([[...uleb(LOCALS), I32]]), ...code];
}

// store(slot, packed, record, pfn, npages, gfp, stack, eip, seq, icount): one ring entry, as
// EventRing.store writes it (E_* then EF_*). Called for every event the writer does not write: a
// typed-array store costs V8 about ten instructions of checks, a store here one.
const S_SLOT = 0, S_FIELDS = 7, S_SEQ = 8, S_ICOUNT = 9;
const S_P = 10;

function storeBody(): number[] {
  const code = [...writeEntry(S_SLOT, S_P, Array.from({ length: S_FIELDS }, (_, k) => get(1 + k)), get(S_SEQ), get(S_ICOUNT)), op.end];
  return [...vec([[1, I32]]), ...code];
}

/** The module's bytes: memory imported as env.memory; exports apply and store. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const applyType = funcType(Array.from({ length: PARAMS }, () => I32), [I32]);
  const storeType = funcType([...Array.from({ length: 1 + S_FIELDS }, () => I32), F64, F64], []);
  const bodies = [applyBody(), storeBody()];
  return new Uint8Array([
    ...MODULE_HEADER,
    ...section(1, vec([applyType, storeType])),
    ...section(2, vec([[...name("env"), ...name("memory"), KIND_MEMORY, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name("apply"), KIND_FUNC, 0], [...name("store"), KIND_FUNC, 1]])),
    ...section(10, vec(bodies.map((body) => [...uleb(body.length), ...body]))),
    ...functionNames([[0, "owner_apply"], [1, "ring_store"]]),
  ]);
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
  private tablesTaken = false;
  private ownI = 0;
  private ownF = 0;
  private rows = 0;
  /** The control words (ring-writer-wasm.ts CONTROL_*): the block writers' view of the owner's tables. */
  private readonly control: Int32Array;
  /** The owner-pending word alone (EventRing sets and clears it): nonzero while the writers must apply nothing. */
  readonly ownerPending: Int32Array;
  /** The ring's count and due mark (ring-writer-wasm.ts CONTROL_COUNTS), which EventRing keeps here. */
  readonly ringCounts: Float64Array;

  /**
   * An arena for up to maxFrames frames; null where WebAssembly is not available or will not give
   * the memory (up to 66 MiB, reserved at once): the owner then keeps its tables in JavaScript.
   */
  static create(maxFrames: number): OwnerArena | null {
    if (typeof WebAssembly !== "object") return null;
    if (!(Number.isInteger(maxFrames) && maxFrames >= 0 && maxFrames <= 2 ** 20)) throw new Error(`invariant: owner arena of ${maxFrames} frames`);
    const pages = Math.ceil((TABLES_OFFSET + maxFrames * BYTES_PER_FRAME) / WASM_PAGE);
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
    const e = instance.exports as { apply: ApplyFn; store: RingStore };
    this.run = e.apply;
    this.ringStore = e.store;
    const buffer = this.memory.buffer;
    this.ringInts = new Int32Array(buffer, 0, EVENT_RING_SIZE * E_STRIDE);
    this.ringFloats = new Float64Array(buffer, RING_INT_BYTES, EVENT_RING_SIZE * EF_STRIDE);
    this.control = new Int32Array(buffer, CONTROL, CONTROL_WORDS);
    this.ownerPending = this.control.subarray(CONTROL_PENDING, CONTROL_PENDING + 1);
    this.ringCounts = new Float64Array(buffer, CONTROL_COUNTS, 2);
    this.ringCounts[1] = Infinity; // nothing due until a ring says so
  }

  /** The block writer over this arena's ring, sampling with a call sampler's exports (CallSampler.exports). */
  blockWriter(sampler: WebAssembly.Exports): BlockWriterExports {
    writerModule ??= new WebAssembly.Module(blockWriterBytes());
    const instance = new WebAssembly.Instance(writerModule, { env: { memory: this.memory }, sampler: sampler as WebAssembly.ModuleImports });
    return instance.exports as unknown as BlockWriterExports;
  }

  /**
   * The owner's tables for `frames` frames, indexed from the allocator's basePfn (zeroed; each frame's
   * row index OWNER_NONE), or null when they do not fit. Taken once; the block writers apply to them
   * from then on, at the index their zones() give (the same allocator's).
   */
  tables(frames: number): { ints: Int32Array<ArrayBuffer>; nums: Float64Array<ArrayBuffer>; frameRow: Int32Array<ArrayBuffer> } | null {
    if (this.tablesTaken) throw new Error("invariant: an owner arena's tables were taken twice");
    if (frames > this.maxFrames) return null;
    this.tablesTaken = true;
    const buffer = this.memory.buffer;
    // Float64s first: their offset stays a multiple of 8. The frame rows before the ints: a stray
    // write past the rows' end would land in a record, where the tests compare every one.
    this.ownF = TABLES_OFFSET;
    this.rows = this.ownF + frames * F_STRIDE * 8;
    this.ownI = this.rows + frames * 4;
    const c = this.control;
    [c[CONTROL_OWN_I], c[CONTROL_OWN_F], c[CONTROL_ROWS], c[CONTROL_FRAMES]] = [this.ownI, this.ownF, this.rows, frames];
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

  /**
   * What the events applied here and by the block writers added to the allocations, live frames and
   * live blocks, then zeroes them.
   */
  takeCounters(): [number, number, number] {
    const out: [number, number, number] = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      out[k] = this.control[CONTROL_ALLOCATIONS + k]!;
      this.control[CONTROL_ALLOCATIONS + k] = 0;
    }
    return out;
  }
}

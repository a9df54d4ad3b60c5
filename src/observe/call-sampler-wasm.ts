// The page's per-call sampling in WebAssembly, over v86's own memory (imported, never written): the
// registers of the call in progress (EAX, the EIP of its `in`, CR0, EBP), the instruction counter
// and its unwrapping past 2^32, and the stack memo's two recent walks (stack-walk.ts, StackMemo).
// The arena's block writer (owner-wasm.ts) imports its `sampleStack` and its result globals, so that one
// call from the hub samples the call, finds its backtrace and writes the ring entry without coming
// back to JavaScript. In JavaScript the same work, V8 guarding every typed-array read, with the hub's
// dispatch around it, cost about 620 host instructions per churn call; the page's own work per call
// went from about 900 to about 570 (callgrind, bench:live's page, docs/web-speed.md).
//
// The recent walks answer as the JavaScript check would, exactly: a walk's handle when its (EIP,
// EBP) is the one asked and every word its trail read still holds its value, else -1 (then the hub
// samples and walks in JavaScript, and the memo puts the walk here). A trail word outside guest RAM
// is a miss, as an out-of-range read is in JavaScript. Once a hub has a sampler, the instruction
// counter is unwrapped here only (the hub reads the result), so the two never disagree.

import type { GuestStateInWasm } from "../host/v86-cpu.js";
import { unwrapCount } from "./call-sampler.js";
import { CR0_PG, REG_EBP, SAMPLER_FRAMES, TWO_32 } from "./layout.js";
import { F64, f64Bytes, I32, I64, KIND_FUNC, KIND_GLOBAL, KIND_MEMORY, MODULE_HEADER, funcType, functionNames, get, gget, gset, i32, name, op, section, set, uleb, vec } from "./wasm-encode.js";

// Globals of one walk, in this order from its base index: EIP, EBP, handle, frame count (-1: none,
// or a trail that reads outside RAM), then per frame its two words as one i64 (the saved EBP low,
// the return address high, as an i64 load of the frame reads them: one load and one compare per
// frame where two of each cost about 6 more host instructions a frame) and the byte address in the
// memory of the first of the two (computed once, by put).
const G_EIP = 0, G_EBP = 1, G_HANDLE = 2, G_FRAMES = 3, G_TRAIL = 4;
const G_PAIR = (k: number): number => G_TRAIL + 2 * k;
const G_ADDR = (k: number): number => G_TRAIL + 2 * k + 1;
const WALK_GLOBALS = G_TRAIL + 2 * SAMPLER_FRAMES;
const WALKS = 2;
// Parameters of find and put (put's trail follows: saved EBP and return address per frame) and put's local.
const EIP = 0, EBP = 1;
const P_WALK = 0, P_EIP = 1, P_EBP = 2, P_HANDLE = 3, P_FRAMES = 4, P_TRAIL = 5, P_W = P_TRAIL + 2 * SAMPLER_FRAMES;

/**
 * find(eip, ebp) -> the handle of walk 0 or 1 when it is the walk from (eip, ebp) and every word of
 * its trail still holds, else -1.
 */
function findBody(): number[] {
  return [...vec([]), ...findCode(get(EIP), get(EBP)), op.end];
}

/**
 * find's code, leaving its answer: `eip` and `ebp` are the code of the two values. A br_table on the
 * frame count enters the checks at the walk's last frame, which fall through to its first (the
 * order of the compares does not change the answer). sampleStack runs it in line.
 */
function findCode(eip: number[], ebp: number[]): number[] {
  const code: number[] = [op.block, I32]; // the answer
  for (let walk = 0; walk < WALKS; walk++) {
    const g = (field: number): number[] => gget(walk * WALK_GLOBALS + field);
    code.push(
      op.block, op.void, // miss
      ...g(G_EIP), ...eip, op.i32Ne, op.brIf, 0,
      ...g(G_EBP), ...ebp, op.i32Ne, op.brIf, 0,
    );
    // Blocks A_0 (outer) .. A_16 (inner): a frame count of n branches to the end of A_n, after which
    // frames n - 1 .. 0 are checked; -1 (none) and anything else go to miss.
    for (let n = 0; n <= SAMPLER_FRAMES; n++) code.push(op.block, op.void);
    code.push(...g(G_FRAMES), op.brTable, ...uleb(SAMPLER_FRAMES + 1));
    for (let n = 0; n <= SAMPLER_FRAMES; n++) code.push(...uleb(SAMPLER_FRAMES - n));
    code.push(...uleb(SAMPLER_FRAMES + 1));
    for (let k = SAMPLER_FRAMES - 1; k >= 0; k--) {
      // Here inside A_k .. A_0: miss is k + 1 blocks out.
      code.push(op.end, ...g(G_ADDR(k)), op.i64Load, 2, 0, ...g(G_PAIR(k)), op.i64Ne, op.brIf, ...uleb(k + 1));
    }
    code.push(op.end, ...g(G_HANDLE), op.br, 1, op.end);
  }
  code.push(...i32(-1), op.end);
  return code;
}

/**
 * put(walk, eip, ebp, handle, frames, s0, r0, ..., s15, r15): walk 0 or 1 becomes this walk. Frame k's
 * two words are at word index w and w + 1 of RAM, w being EBP >> 2 for the first frame and the saved
 * EBP of frame k - 1, >> 2, for the next (as trailHolds reads them); their byte address in the memory
 * is kept. A frame whose words are not both inside RAM (which JavaScript would read as undefined,
 * never equal) makes the walk one that never holds.
 */
function putBody(ramOffset: number, ramWords: number): number[] {
  const code: number[] = [];
  for (let walk = 0; walk < WALKS; walk++) {
    const walkSet = (field: number): number[] => gset(walk * WALK_GLOBALS + field);
    code.push(...get(P_WALK), ...i32(walk), op.i32Eq, op.if, op.void);
    code.push(...get(P_EIP), ...walkSet(G_EIP), ...get(P_EBP), ...walkSet(G_EBP), ...get(P_HANDLE), ...walkSet(G_HANDLE), ...get(P_FRAMES), ...walkSet(G_FRAMES));
    for (let k = 0; k < SAMPLER_FRAMES; k++) {
      code.push(
        ...get(P_TRAIL + 2 * k + 1), op.i64FromU32, op.i64Const, 32, op.i64Shl, ...get(P_TRAIL + 2 * k), op.i64FromU32, op.i64Or, ...walkSet(G_PAIR(k)),
        ...get(k === 0 ? P_EBP : P_TRAIL + 2 * (k - 1)), ...i32(2), op.i32ShrS, ...set(P_W),
        ...get(P_W), ...i32(2), op.i32Shl, ...i32(ramOffset), op.i32Add, ...walkSet(G_ADDR(k)),
        // Inside RAM: 0 <= w and w + 1 < ramWords, one unsigned compare; only frames the walk has.
        ...i32(k), ...get(P_FRAMES), op.i32LtS, ...get(P_W), ...i32(ramWords - 1), op.i32GeU, op.i32And,
        op.if, op.void, ...i32(-1), ...walkSet(G_FRAMES), op.end,
      );
    }
    code.push(op.end);
  }
  code.push(op.end);
  return [...vec([[1, I32]]), ...code];
}

// The sampler's globals, after the walks': the call it sampled last (its seq, -1: none), and that
// call's EAX, EIP, CR0, unwrapped instruction count and stack handle (STACK_UNKNOWN until its first
// alloc or free finds it here, or the hub gives the one it walked), then the unwrapping's state: the
// last raw counter and what was added to it (the wraps seen).
const GS = WALKS * WALK_GLOBALS;
const G_S_SEQ = GS, G_S_CMD = GS + 1, G_S_EIP = GS + 2, G_S_CR0 = GS + 3, G_S_ICOUNT = GS + 4, G_S_STACK = GS + 5;
const G_S_LAST_RAW = GS + 6, G_S_HIGH = GS + 7;
/** The exported globals: name, index, type. */
const SAMPLE_EXPORTS: [string, number, number][] = [
  ["seq", G_S_SEQ, F64], ["cmd", G_S_CMD, I32], ["eip", G_S_EIP, I32], ["cr0", G_S_CR0, I32],
  ["icount", G_S_ICOUNT, F64], ["stack", G_S_STACK, I32], ["lastRaw", G_S_LAST_RAW, F64], ["high", G_S_HIGH, F64],
];

/** A call's stack not yet known (sample resets it; stackNow and the hub set it). */
export const STACK_UNKNOWN = -2;

/**
 * sample(seq): unless call seq was sampled already, reads its registers and counter into the
 * globals (the counter unwrapped as EventHub did: a raw value more than 2^31 below the last is a
 * wrap), its stack unknown. The backtrace is looked up later, by stackNow at the call's first alloc
 * or free, when the hub's JavaScript would walk it: the call may write guest RAM in between (a
 * GFP_ZERO block, a BATCH record's status), and the walk must read the words as they are then.
 */
function sampleBody(state: GuestStateInWasm): number[] {
  return [...vec([[1, I32], [2, F64]]), ...get(0), ...gget(G_S_SEQ), op.f64Eq, op.if, op.void, op.return, op.end, ...sampleCode(state), op.end];
}

/** sample's reads of call local 0 (its seq), into the globals; locals 1 (i32), 2 and 3 (f64) scratch. */
function sampleCode(state: GuestStateInWasm): number[] {
  const L_EIP = 1, L_RAW = 2, L_IC = 3;
  const f64c = (x: number): number[] => [op.f64Const, ...f64Bytes(x)];
  const load = (offset: number): number[] => [...i32(0), op.i32Load, 2, ...uleb(offset)];
  return [
    ...get(0), ...gset(G_S_SEQ),
    ...load(state.reg32Offset), ...gset(G_S_CMD),
    ...load(state.previousIpOffset), op.tee, L_EIP, ...gset(G_S_EIP),
    ...load(state.crOffset), ...gset(G_S_CR0),
    ...load(state.instructionCounterOffset), op.f64FromU32, ...set(L_RAW),
    ...get(L_RAW), ...f64c(TWO_32 / 2), op.f64Add, ...gget(G_S_LAST_RAW), op.f64Lt,
    op.if, F64, ...gget(G_S_HIGH), ...f64c(TWO_32), op.f64Add, op.else, ...gget(G_S_HIGH), op.end,
    ...get(L_RAW), op.f64Add, op.tee, L_IC, ...gset(G_S_ICOUNT),
    ...get(L_IC), ...get(L_RAW), op.f64Sub, ...gset(G_S_HIGH),
    ...get(L_RAW), ...gset(G_S_LAST_RAW),
    ...i32(STACK_UNKNOWN), ...gset(G_S_STACK),
  ];
}

/**
 * stackNow() -> the stack of the call sampled last: the one known already, else (paging off) the
 * recent walk from its EIP and EBP as they are now, which it keeps; -1 when neither (the hub walks).
 */
function stackNowBody(state: GuestStateInWasm): number[] {
  return [...vec([[2, I32]]), ...stackNowCode(state, 0, 1), op.end];
}

/** stackNow's code, returning its result, with locals `h` and `ebp` (i32) as its scratch. */
function stackNowCode(state: GuestStateInWasm, h: number, ebp: number): number[] {
  return [
    ...gget(G_S_STACK), op.tee, h, ...i32(STACK_UNKNOWN), op.i32Ne, op.if, op.void, ...get(h), op.return, op.end,
    ...gget(G_S_CR0), ...i32(CR0_PG | 0), op.i32And, op.if, op.void, ...i32(-1), op.return, op.end,
    ...i32(0), op.i32Load, 2, ...uleb(state.reg32Offset + 4 * REG_EBP), ...set(ebp),
    ...findCode(gget(G_S_EIP), get(ebp)), op.tee, h,
    ...i32(0), op.i32LtS, op.if, op.void, ...i32(-1), op.return, op.end,
    ...get(h), ...gset(G_S_STACK),
    ...get(h),
  ];
}

/**
 * sampleStack(seq) -> sample(seq), then stackNow(), in one function with find's code in line too (the
 * block writer's one call into this module): the two calls between sample and stackNow cost about 40
 * host instructions per page request, the call of find about 12.
 */
function sampleStackBody(state: GuestStateInWasm): number[] {
  const sampled = [...get(0), ...gget(G_S_SEQ), op.f64Eq, op.brIf, 0];
  return [...vec([[1, I32], [2, F64], [1, I32]]), op.block, op.void, ...sampled, ...sampleCode(state), op.end, ...stackNowCode(state, 1, 4), op.end];
}

function moduleBytes(state: GuestStateInWasm): Uint8Array<ArrayBuffer> {
  const ramWords = Math.floor(state.ramBytes / 4);
  const findType = funcType([I32, I32], [I32]);
  const putType = funcType(Array.from({ length: P_TRAIL + 2 * SAMPLER_FRAMES }, () => I32), []);
  const sampleType = funcType([F64], []);
  const stackNowType = funcType([], [I32]);
  const sampleStackType = funcType([F64], [I32]);
  const i32Global = (init: number): number[] => [I32, 1, ...i32(init), op.end];
  const f64Global = (init: number): number[] => [F64, 1, op.f64Const, ...f64Bytes(init), op.end];
  const i64Zero = [I64, 1, op.i64Const, 0, op.end];
  const walkGlobal = (f: number): number[] => (f >= G_TRAIL && (f - G_TRAIL) % 2 === 0 ? i64Zero : i32Global(f === G_FRAMES ? -1 : 0));
  const walks = Array.from({ length: WALKS }, () => Array.from({ length: WALK_GLOBALS }, (_, f) => walkGlobal(f))).flat();
  const sampled = SAMPLE_EXPORTS.map(([, g, type]) => (type === F64 ? f64Global(g === G_S_SEQ ? -1 : 0) : i32Global(g === G_S_STACK ? STACK_UNKNOWN : 0)));
  const bodies = [findBody(), putBody(state.ramOffset, ramWords), sampleBody(state), stackNowBody(state), sampleStackBody(state)];
  return new Uint8Array([
    ...MODULE_HEADER,
    ...section(1, vec([findType, putType, sampleType, stackNowType, sampleStackType])),
    // The emulator's memory, with no limits of ours: any size it has or grows to.
    ...section(2, vec([[...name("v86"), ...name("memory"), KIND_MEMORY, 0x00, ...uleb(0)]])),
    ...section(3, vec([[0], [1], [2], [3], [4]])),
    ...section(6, vec([...walks, ...sampled])),
    ...section(7, vec([
      [...name("find"), KIND_FUNC, 0],
      [...name("put"), KIND_FUNC, 1],
      [...name("sample"), KIND_FUNC, 2],
      [...name("stackNow"), KIND_FUNC, 3],
      [...name("sampleStack"), KIND_FUNC, 4],
      ...SAMPLE_EXPORTS.map(([n, g]) => [...name(n), KIND_GLOBAL, ...uleb(g)]),
    ])),
    ...section(10, vec(bodies.map((body) => [...uleb(body.length), ...body]))),
    ...functionNames([[0, "sampler_find"], [1, "sampler_put"], [2, "sampler_sample"], [3, "sampler_stack_now"], [4, "sampler_sample_stack"]]),
  ]);
}

type FindFn = (eip: number, ebp: number) => number;
type PutFn = (...args: number[]) => void;

/** The sampler's exported globals, as WebAssembly.Global objects (read and set from JavaScript). */
type SamplerGlobals = Record<(typeof SAMPLE_EXPORTS)[number][0], WebAssembly.Global>;

/**
 * A hub's sampler: the call's registers, instruction count and recent-walk backtrace, read in
 * WebAssembly from the emulator's memory. `find` answers as RecentWalk.holds of both walks would;
 * `sample(seq)` samples call seq once, after which the getters give what it read.
 */
export class CallSampler {
  /** The handle of walk 0 or 1 from (eip, ebp) whose trail still holds, else -1. */
  readonly find: FindFn;
  /** Samples call `seq` (once: a second sample of the same seq reads nothing). */
  readonly sample: (seq: number) => void;
  /** The sampled call's stack: known, or found now among the recent walks (kept); -1: neither. */
  readonly stackNow: () => number;
  /** The instance's exports, which the arena's block writer imports (owner-wasm.ts). */
  readonly exports: WebAssembly.Exports;
  private readonly putFn: PutFn;
  /** put's arguments, reused (a put follows each walk not among the recent two). */
  private readonly putArgs: number[] = new Array<number>(P_TRAIL + 2 * SAMPLER_FRAMES).fill(0);
  private readonly g: SamplerGlobals;

  /** Null where WebAssembly is not available or the layout is not one it can read. */
  static create(state: GuestStateInWasm): CallSampler | null {
    if (typeof WebAssembly !== "object") return null;
    const offsets = [state.ramOffset, state.reg32Offset, state.previousIpOffset, state.instructionCounterOffset, state.crOffset];
    if (!offsets.every((o) => Number.isInteger(o) && o >= 0 && o % 4 === 0) || !(Number.isInteger(state.ramBytes) && state.ramBytes >= 8)) return null;
    const size = state.memory.buffer.byteLength;
    if (state.ramOffset + state.ramBytes > size || state.ramOffset + state.ramBytes > 2 ** 32) return null;
    if (state.reg32Offset + 32 > size || state.previousIpOffset + 4 > size || state.instructionCounterOffset + 4 > size || state.crOffset + 4 > size) return null;
    return new CallSampler(new WebAssembly.Instance(new WebAssembly.Module(moduleBytes(state)), { v86: { memory: state.memory } }));
  }

  private constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports;
    const e = instance.exports as { find: FindFn; put: PutFn; sample: (seq: number) => void; stackNow: () => number } & SamplerGlobals;
    this.find = e.find;
    this.putFn = e.put;
    this.sample = e.sample;
    this.stackNow = e.stackNow;
    this.g = e;
  }

  /** EAX of the call sampled last (its command). */
  get cmd(): number {
    return (this.g.cmd.value as number) >>> 0;
  }

  /** EIP of its `in`. */
  get eip(): number {
    return (this.g.eip.value as number) >>> 0;
  }

  get cr0(): number {
    return (this.g.cr0.value as number) >>> 0;
  }

  /** Its unwrapped instruction count. */
  get icount(): number {
    return this.g.icount.value as number;
  }

  /** Its backtrace's depot handle once known (stackNow, or setStack); STACK_UNKNOWN before. */
  get stack(): number {
    return this.g.stack.value as number;
  }

  /** The hub walked the call's backtrace itself: later allocs and frees of the call take this one. */
  setStack(handle: number): void {
    this.g.stack.value = handle;
  }

  /** The unwrapped count of a raw u32 counter read after the last sampled one (EventHub.icountNow). */
  unwrap(raw: number): number {
    return unwrapCount(raw, this.g.lastRaw.value as number, this.g.high.value as number);
  }

  /**
   * The counter goes on from `icount` at raw value `raw` (a restored checkpoint), and no call counts
   * as sampled (v86 restarts the counter, the bridge its numbering may too).
   */
  continueFrom(raw: number, icount: number): void {
    this.g.lastRaw.value = raw;
    this.g.high.value = icount - raw;
    this.g.seq.value = -1;
  }

  /** The next sample reads the registers again, whatever its seq (a port misuse between calls). */
  forgetCall(): void {
    this.g.seq.value = -1;
  }

  /**
   * Walk `walk` (0 or 1) becomes the walk from (eip, ebp) with this handle, whose trail is
   * `frames` (at most SAMPLER_FRAMES) pairs of `trail` from index `at`.
   */
  put(walk: number, eip: number, ebp: number, handle: number, frames: number, trail: ArrayLike<number>, at: number): void {
    if (frames > SAMPLER_FRAMES) throw new Error(`invariant: a recent walk of ${frames} frames`);
    const args = this.putArgs;
    args[0] = walk;
    args[1] = eip;
    args[2] = ebp;
    args[3] = handle;
    args[4] = frames;
    for (let i = 0; i < 2 * SAMPLER_FRAMES; i++) args[P_TRAIL + i] = i < 2 * frames ? trail[at + i]! : 0;
    this.putFn(...args);
  }

  /** Neither walk holds anything (a new RAM view). */
  forget(): void {
    for (let walk = 0; walk < WALKS; walk++) this.put(walk, 0, 0, -1, -1, this.putArgs, 0);
  }
}

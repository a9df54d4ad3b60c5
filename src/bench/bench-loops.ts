// The allocator bench's workloads (issue 2's W1..W4) on a 1 GiB pool, and their measurement: 1
// warm-up, then median/min/max of `reps` timed reps, ns per call. bench.ts imports this module once
// per page source as a module instance of its own (`bench-loops.js?source=pure`, `?source=stack`,
// a URL each), so that the buddy and the plain frame stack run in one process, as issue 2 asks,
// without sharing the workloads' functions: each instance has its own functions and V8 type feedback,
// and its call sites see one page source, as in a process of its own.
// Allocations use GFP_HIGHMEM so that every zone of the pool is reachable, as the stack's frames are.

import { BuddyAllocator, GFP, GFP_HIGHMEM, MemoryMap, PAGE_SIZE } from "../mem/index.js";
import { FrameStack, medianMinMax, w3Order, xorshift32 } from "./workloads.js";

const POOL_BYTES = 2 ** 30;
export const FRAMES = POOL_BYTES / PAGE_SIZE;
export const REPS = 5;
const W2_SEED = 0x2545f491;
const W3_SEED = 2463534242;
const W3_OPS = 2_000_000;

/** What the workloads drive: the buddy and the stack both have these two methods. */
interface PageSource {
  tryAllocPages(order: number, gfp: number): number;
  tryFreePages(addr: number, order: number): number;
}

export function makeSource(kind: string): PageSource {
  if (kind === "stack") return new FrameStack(FRAMES);
  const map = new MemoryMap();
  map.addUsable(0, POOL_BYTES);
  return new BuddyAllocator(map, { pcp: kind === "pcp" ? { high: 378, batch: 63 } : false });
}

/**
 * The workloads' own records of live blocks, made once per module instance (per page source). A
 * fresh typed array per rep would be page-faulted inside the timed region (about 14 ns per W2 call on
 * this machine, more than the plain stack's whole cost), charging the harness's first touches to the
 * allocator. Addresses are page-aligned and below 4 GiB, so a Uint32Array holds them exactly (a
 * Float64Array made every free convert a double back to an integer argument), and W3/W4 keep each
 * block's order in its low 12 bits (addr + order) rather than in a second array, which V8 re-checked
 * and reloaded after every call.
 * Each chunk function makes its own Uint32Array view of this buffer (one per 10,000 ops): V8 then
 * knows the view is an object, where a module binding copied to a local was re-tested for a small
 * integer and kept on the stack in every round. W3 pure 172.8 -> 170.2 instructions per call in its
 * loop; pinned to one CPU, alternating the two builds (14 pairs, 2026-11-28), the view was faster in
 * 11 pairs, median of the medians 14.06 against 14.41 ns per call. Not in shuffle, which runs once
 * per rep: V8 compiled it before the view's construction had type feedback, and then deoptimized
 * it in the first timed rep (W2 pure's second timed rep took 30 ns per call against 20 to 23).
 */
const liveBuffer = new ArrayBuffer(FRAMES * 4);
const liveBlocks = new Uint32Array(liveBuffer);

/** One measurement: ns per call over the timed reps, and what the last rep returned. */
export interface Measurement {
  median: number;
  min: number;
  max: number;
  calls: number;
  failures: number;
  live: number;
  liveChecksum: number;
}

/**
 * Each workload returns the number of calls it made, the failures it saw, and the blocks still live
 * at its end (W3 and W4 leave some; the stream's fingerprint, checked by test/bench-streams.test.ts).
 */
type Workload = (src: PageSource) => { calls: number; failures: number; live: number };

/**
 * Every workload runs its ops in chunks: each chunk is one call of a loop function that keeps the
 * stream's state in `chunkState` between calls. A workload written as one long loop, called once per
 * rep, was compiled by V8 on stack replacement (OSR) and deoptimized where its warm-up had left no
 * type feedback (the result's object literal after the loop, a branch of the allocator's it had not
 * yet taken); a function called only six times in all was then not compiled whole again, and its
 * timed reps ran in OSR code or lower tiers, in some processes and not others. Measured on one CPU
 * (`taskset -c 1`, %GetOptimizationStatus after each rep, 2026-11-28): W3 pure's loop was no longer
 * optimized in 6 of 10 processes, whose reps took 15.0 to 15.7 ns per call against 13.6 to 14.4;
 * W2 pure's in 3 of 4, 30 to 31 against 22 to 24. A chunk function is called 100 to 200 times per
 * rep, so after a deoptimization V8 compiles it whole again within the rep.
 */
const CHUNK = 10_000; // the loops write it out as their bound (see randomStreamChunk)
const chunkState = new Int32Array(4); // W2: n; W3/W4: x, count, failures, live frames (W4)

/** W1's chunk: alloc order 0, free it. */
function churnChunk(src: PageSource): void {
  for (let i = 0; i < 10_000; i++) src.tryFreePages(src.tryAllocPages(0, GFP_HIGHMEM), 0);
}

const W1: Workload = (src) => {
  for (let c = 0; c < 1_000_000 / CHUNK; c++) churnChunk(src);
  return { calls: 2_000_000, failures: 0, live: 0 };
};

const W1b: Workload = (src) => {
  const held = src.tryAllocPages(0, GFP.HIGHMEM);
  const r = W1(src);
  src.tryFreePages(held, 0);
  return r;
};

/** W2's first phase, one chunk: order-0 allocs into live[n..]. True when one failed (ENOMEM). */
function fillChunk(src: PageSource): boolean {
  const live = new Uint32Array(liveBuffer);
  let n = chunkState[0]!;
  for (let i = 0; i < 10_000; i++) {
    const addr = src.tryAllocPages(0, GFP_HIGHMEM);
    if (addr === 0) {
      chunkState[0] = n;
      return true;
    }
    live[n] = addr;
    n = (n + 1) | 0; // n stays below 2^18
  }
  chunkState[0] = n;
  return false;
}

/** W2's last phase, one chunk: frees live[from..to). */
function freeChunk(src: PageSource, from: number, to: number): void {
  const live = new Uint32Array(liveBuffer);
  for (let i = from; i < to; i++) src.tryFreePages(live[i]!, 0);
}

/** Fisher-Yates over live[0..n) with W2's seed. */
function shuffle(n: number): void {
  const live = liveBlocks;
  let x = W2_SEED | 0;
  for (let i = n - 1; i > 0; i--) {
    x = xorshift32(x);
    const j = pick(x, i + 1);
    const t = live[i]!;
    live[i] = live[j]!;
    live[j] = t;
  }
}

const W2: Workload = (src) => {
  chunkState[0] = 0;
  while (!fillChunk(src));
  const n = chunkState[0]!;
  shuffle(n);
  for (let i = 0; i < n; i += CHUNK) freeChunk(src, i, Math.min(n, i + CHUNK));
  // The fill stops at its first failure, and every block it made is freed.
  return { calls: n + 1 + n, failures: 1, live: 0 };
};

/**
 * floor(u * n / 2^32) for the u32 value of xorshift32 state x and 0 < n <= 2^18: an index in [0, n).
 * The product is below 2^50, exact as a double; `| 0` is floor for a result in [0, 2^18), and costs
 * V8 one truncation where Math.floor adds a rounding and a check that the result is an integer.
 */
function pick(x: number, n: number): number {
  return ((x >>> 0) * n / 2 ** 32) | 0;
}

/**
 * W3, one chunk: each op draws a and b; it frees a random live block when a's top bit is set (and one
 * is live), else allocates order w3Order(b). xorshift32, w3Order and pick are written out here (the
 * same stream, orders and indices as fillStreamChunk's helpers): V8 counts a called helper's bytecode
 * (31 bytes per xorshift32 call site, 59 for w3Order, 21 for pick) against this function's inlining
 * budget, which the allocator's two fast paths need whole (see BuddyAllocator.tryAllocPages). W3's
 * loop is W4's without the live-frame count and W4's test: in the shared loop those cost about 8
 * instructions per call (callgrind) and kept more of the loop's values on the stack.
 */
function randomStreamChunk(src: PageSource): void {
  let x = chunkState[0]!;
  let count = chunkState[1]!;
  let failures = chunkState[2]!;
  const live = new Uint32Array(liveBuffer); // addr + order
  // Locals and literals, not module bindings, in the loop: V8 reloads and re-checks those on each
  // use. The bound is CHUNK written out (a local copy of W3's op count still cost a spilled value and
  // a check per round: W3 pure 220 -> 215 instructions per call); the gfp is a literal, so V8 folds
  // the fast path's gfp tests.
  for (let op = 0; op < 10_000; op++) {
    // a and b are the stream's two draws; a's top bit is the sign of its int32 state.
    x ^= x << 13;
    x ^= x >>> 17;
    const a = (x ^= x << 5);
    x ^= x << 13;
    x ^= x >>> 17;
    const b = (x ^= x << 5);
    if (a < 0 && count > 0) {
      // The swap-remove comes before the call: V8 re-checks and reloads the array after it.
      const i = ((b >>> 0) * count / 2 ** 32) | 0; // pick(b, count)
      const block = live[i]!;
      // count stays in 0..2^18: `| 0` spares V8 the overflow checks of `--count` and `count++`.
      count = (count - 1) | 0;
      live[i] = live[count]!;
      const order = block & (PAGE_SIZE - 1);
      if (src.tryFreePages(block - order, order) !== 0) throw new Error("bench: a free failed");
    } else {
      const u = b >>> 0;
      const order = Math.clz32(2047 - (u - Math.floor(u / 2047) * 2047)) - 21; // w3Order(u)
      const addr = src.tryAllocPages(order, GFP_HIGHMEM);
      if (addr === 0) failures++;
      else {
        live[count] = addr + order;
        count = (count + 1) | 0;
      }
    }
  }
  chunkState[0] = x;
  chunkState[1] = count;
  chunkState[2] = failures;
}

/** W3: 2,000,000 ops; blocks still live at the end stay allocated (each rep has a fresh source). */
const W3: Workload = (src) => {
  chunkState.set([W3_SEED | 0, 0, 0, 0]);
  for (let c = 0; c < W3_OPS / CHUNK; c++) randomStreamChunk(src);
  return { calls: W3_OPS, failures: chunkState[2]!, live: chunkState[1]! };
};

/**
 * W4, one chunk: the same stream as W3, but an op frees a random live block whenever the live frames
 * reach fillTarget (a is drawn and not used), else allocates. Not tuned for the inlining budget (W4
 * has no target), so it calls the helpers.
 */
function fillStreamChunk(src: PageSource, fillTarget: number): void {
  let x = chunkState[0]!;
  let count = chunkState[1]!;
  let failures = chunkState[2]!;
  let liveFrames = chunkState[3]!;
  const live = new Uint32Array(liveBuffer); // addr + order
  for (let op = 0; op < 10_000; op++) {
    x = xorshift32(xorshift32(x));
    if (count > 0 && liveFrames >= fillTarget) {
      const i = pick(x, count);
      const order = live[i]! & (PAGE_SIZE - 1);
      if (src.tryFreePages(live[i]! - order, order) !== 0) throw new Error("bench: a free failed");
      liveFrames -= 1 << order;
      live[i] = live[--count]!;
      continue;
    }
    const order = w3Order(x >>> 0);
    const addr = src.tryAllocPages(order, GFP_HIGHMEM);
    if (addr === 0) {
      failures++;
      continue;
    }
    live[count++] = addr + order;
    liveFrames += 1 << order;
  }
  chunkState[0] = x;
  chunkState[1] = count;
  chunkState[2] = failures;
  chunkState[3] = liveFrames;
}

const W4: Workload = (src) => {
  chunkState.set([W3_SEED | 0, 0, 0, 0]);
  const fillTarget = 0.9 * FRAMES;
  for (let c = 0; c < W3_OPS / CHUNK; c++) fillStreamChunk(src, fillTarget);
  return { calls: W3_OPS, failures: chunkState[2]!, live: chunkState[1]! };
};

/**
 * Runs one workload on one source: 1 warm-up, then `reps` timed reps, each on a fresh source. Also
 * returns the calls of one rep, so that two runs with different reps under callgrind give the
 * instructions per call (docs/architecture.md, Performance).
 */
export function measure(kind: string, work: Workload, reps: number): Measurement {
  const samples: number[] = [];
  let last = { calls: 0, failures: 0, live: 0 };
  for (let rep = -1; rep < reps; rep++) {
    const src = makeSource(kind);
    const t0 = performance.now();
    const r = work(src);
    const ns = ((performance.now() - t0) * 1e6) / r.calls;
    last = r;
    if (rep >= 0) samples.push(ns);
  }
  return { ...medianMinMax(samples), ...last, liveChecksum: liveChecksum(last.live) };
}

/**
 * The sum mod 2^32 of the first `live` records (address + order) of the live blocks, after a rep and
 * outside its timing: which blocks W3 and W4 left live, so that a test can tell the bench's stream
 * from the (test/bench-streams.test.ts).
 */
function liveChecksum(live: number): number {
  let sum = 0;
  for (let i = 0; i < live; i++) sum = (sum + liveBlocks[i]!) >>> 0;
  return sum;
}

export const WORKLOADS: Record<string, Workload> = { W1, W1b, W2, W3, W4 };

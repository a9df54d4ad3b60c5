// Shared pieces of the benchmarks: the xorshift32 generator, the W3 order distribution, the plain
// free-frame stack every allocator is compared with, and sample statistics.

/**
 * One step of Marsaglia's xorshift32 (13, 17, 5) on an int32 state; the stream's value is the new
 * state >>> 0. The benchmark loops keep the state in a local with this, rather than in an object
 * whose field every draw loads, map-checks and stores.
 */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  return x ^ (x << 5);
}

/** Marsaglia's xorshift32 (13, 17, 5). A seed of 0 would stay 0 forever and is rejected. */
export class Xorshift32 {
  private x: number;

  constructor(seed: number) {
    if (seed >>> 0 !== seed || seed === 0) throw new RangeError(`Xorshift32: seed must be a non-zero u32, got ${seed}`);
    this.x = seed | 0;
  }

  /** The next value, as an unsigned 32-bit integer. */
  next(): number {
    this.x = xorshift32(this.x);
    return this.x >>> 0;
  }
}

/** The W3 order for a random u32: order k with probability about 2^-(k+1), orders 0..10. */
export function w3Order(b: number): number {
  // b % 2047 without a floating-point remainder (b may exceed 2^31, so % would be fmod).
  return Math.clz32(2047 - (b - Math.floor(b / 2047) * 2047)) - 21;
}

/** The physical limit of a JS page allocator: a stack of free frame addresses in an Int32Array. */
export class FrameStack {
  private readonly frames: Int32Array;
  private top: number;

  /** Frames 1..count-1 (frame 0 is never handed out, as in the buddy). */
  constructor(count: number) {
    this.frames = new Int32Array(count);
    this.top = 0;
    for (let pfn = count - 1; pfn >= 1; pfn--) this.frames[this.top++] = pfn;
  }

  /** One frame's address, or 0 when empty; order and gfp are ignored (every request is one frame). */
  tryAllocPages(_order: number, _gfp: number): number {
    return this.top === 0 ? 0 : this.frames[--this.top]! * 4096;
  }

  tryFreePages(addr: number, _order: number): number {
    this.frames[this.top++] = addr / 4096;
    return 0;
  }
}

export function medianMinMax(samples: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1]!, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

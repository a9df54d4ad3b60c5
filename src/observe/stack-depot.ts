// A stack depot (Linux lib/stackdepot.c): each distinct backtrace is stored once and named by a small
// integer handle, so a page owner record keeps one int per allocation and grouping by stack is
// grouping by handle. Backtraces live back to back in one growing Uint32Array; an open-addressing
// hash table finds an existing one without allocating, so interning on the hot path is allocation-free
// except when a new stack (or more room) appears. In front of it, a small direct-mapped cache keyed by
// the first two frames (the call site and its caller) answers the usual case, a site seen recently,
// with one comparison of the frames and no full hash.

const EMPTY = -1;
const RECENT_BITS = 6;

/** A depot's stacks, for snapshots (StackDepot.getState). */
export interface StackDepotState {
  /** Every stack's frames, back to back, in handle order. */
  frames: Uint32Array;
  /** Per handle, its stack's depth. */
  depths: Int32Array;
}

function hashFrames(frames: Uint32Array, depth: number): number {
  let h = 0x811c9dc5 ^ depth;
  for (let i = 0; i < depth; i++) h = Math.imul(h ^ frames[i]!, 0x01000193);
  return h >>> 0;
}

export class StackDepot {
  /** Frames of every stack, back to back. */
  private pool = new Uint32Array(1024);
  private poolUsed = 0;
  /** Per handle: offset into pool and depth. */
  private offsets = new Int32Array(64);
  private depths = new Int32Array(64);
  private hashes = new Uint32Array(64);
  private count = 0;
  /** Open-addressing table of handles (EMPTY = free slot); size a power of two. */
  private table = new Int32Array(256).fill(EMPTY);
  /** Direct-mapped: a hash of frames 0 and 1 -> the handle last interned with them (EMPTY: none). */
  private readonly recent = new Int32Array(1 << RECENT_BITS).fill(EMPTY);

  /** Number of distinct stacks. */
  get size(): number {
    return this.count;
  }

  /** The handle of frames[0..depth), stored on first sight. depth must be >= 1. */
  intern(frames: Uint32Array, depth: number): number {
    const key = (Math.imul(frames[0]! ^ (depth > 1 ? frames[1]! : 0), 0x9e3779b1) >>> (32 - RECENT_BITS)) | 0;
    const seen = this.recent[key]!;
    if (seen !== EMPTY && this.equals(seen, frames, depth)) return seen;
    const handle = this.lookup(frames, depth);
    this.recent[key] = handle;
    return handle;
  }

  private lookup(frames: Uint32Array, depth: number): number {
    const hash = hashFrames(frames, depth);
    const mask = this.table.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const h = this.table[slot]!;
      if (h === EMPTY) break;
      if (this.hashes[h] === hash && this.equals(h, frames, depth)) return h;
    }
    return this.insert(frames, depth, hash);
  }

  /** Depth of a stack. */
  depth(handle: number): number {
    return this.depths[handle]!;
  }

  /** Frame i of a stack (0 is the EIP of the call). */
  frame(handle: number, i: number): number {
    return this.pool[this.offsets[handle]! + i]!;
  }

  /** A copy of a stack's frames (allocates: not for the hot path). */
  frames(handle: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.depths[handle]!; i++) out.push(this.frame(handle, i));
    return out;
  }

  /** Every stack, for a snapshot: the frames back to back, and each stack's depth in handle order. */
  getState(): StackDepotState {
    return { frames: this.pool.slice(0, this.poolUsed), depths: this.depths.slice(0, this.count) };
  }

  /**
   * Puts a getState() into an empty depot: each stack gets back its handle (page-owner records keep
   * handles). Throws when the depot already holds stacks or the state is malformed (a bug of ours:
   * snapshot files are checksummed), leaving the depot unusable.
   */
  setState(s: StackDepotState): void {
    if (this.count !== 0) throw new Error("StackDepot.setState: the depot already holds stacks");
    let total = 0;
    for (const d of s.depths) {
      if (!(Number.isInteger(d) && d >= 1)) throw new Error(`StackDepot.setState: a stack of depth ${d}`);
      total += d;
    }
    if (total !== s.frames.length) throw new Error(`StackDepot.setState: depths add up to ${total} frames, the state has ${s.frames.length}`);
    for (let h = 0, off = 0; h < s.depths.length; off += s.depths[h]!, h++) {
      const frames = s.frames.subarray(off, off + s.depths[h]!);
      if (this.lookup(frames, frames.length) !== h) throw new Error(`StackDepot.setState: stack ${h} is a repeat of an earlier one`);
    }
  }

  private equals(handle: number, frames: Uint32Array, depth: number): boolean {
    if (this.depths[handle] !== depth) return false;
    const off = this.offsets[handle]!;
    for (let i = 0; i < depth; i++) if (this.pool[off + i] !== frames[i]) return false;
    return true;
  }

  private insert(frames: Uint32Array, depth: number, hash: number): number {
    if (this.poolUsed + depth > this.pool.length) this.pool = grow(this.pool, this.poolUsed + depth);
    if (this.count === this.offsets.length) {
      this.offsets = grow(this.offsets, this.count + 1);
      this.depths = grow(this.depths, this.count + 1);
      this.hashes = grow(this.hashes, this.count + 1);
    }
    const handle = this.count++;
    this.pool.set(frames.subarray(0, depth), this.poolUsed);
    this.offsets[handle] = this.poolUsed;
    this.depths[handle] = depth;
    this.hashes[handle] = hash;
    this.poolUsed += depth;
    if (this.count * 2 > this.table.length) this.rehash();
    else this.place(handle);
    return handle;
  }

  private place(handle: number): void {
    const mask = this.table.length - 1;
    let slot = this.hashes[handle]! & mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.table[slot] = handle;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2).fill(EMPTY);
    for (let h = 0; h < this.count; h++) this.place(h);
  }
}

/** A typed array at least `need` long (doubling), with the old contents. */
export function grow<T extends Uint32Array | Int32Array | Float64Array | Uint8Array>(a: T, need: number): T {
  let len = Math.max(1, a.length);
  while (len < need) len *= 2;
  const b = new (a.constructor as new (n: number) => T)(len);
  b.set(a);
  return b;
}

// Test helpers for the pure allocator: small maps and allocators built in one line.
import { Xorshift32 } from "../../src/bench/workloads.js";
import { BuddyAllocator, MemoryMap, type BuddyOptions } from "../../src/mem/index.js";

export const MiB = 2 ** 20;

/** An allocator over [0, bytes) of RAM with the given reservations; pure buddy unless options say otherwise. */
export function makeBuddy(bytes: number, options: BuddyOptions = {}, reserved: [number, number, string][] = []): BuddyAllocator {
  const map = new MemoryMap();
  map.addUsable(0, bytes);
  for (const [base, length, label] of reserved) map.reserve(base, length, label);
  return new BuddyAllocator(map, { pcp: false, ...options });
}

/** Frees of blocks per order, summed over zones, as an array. */
export function freeBlocks(buddy: BuddyAllocator): number[] {
  const out: number[] = [];
  for (let o = 0; o <= buddy.maxOrder; o++) out.push(buddy.freeBlockCount(o));
  return out;
}

/** Fisher-Yates in place with xorshift32 from `seed` (index j = next() % (i + 1)): a fixed shuffle. */
export function shuffleInPlace<T>(items: { length: number; [i: number]: T }, seed = 0x2545f491): void {
  const rng = new Xorshift32(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.next() % (i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}

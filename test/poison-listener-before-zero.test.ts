// The allocator calls listener.alloc / allocContig before GFP_ZERO clears the block, so a checker
// (src/debug/poison.ts) sees the bytes the block held while it was free; the caller still gets zeros.
import { describe, expect, it } from "vitest";
import { GFP, PAGE_SIZE, type BuddyListener } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

function recorder(memory: Uint8Array): { listener: BuddyListener; seen: number[] } {
  const seen: number[] = [];
  const noop = (): void => {};
  const listener: BuddyListener = {
    alloc: (pfn) => seen.push(memory[pfn * PAGE_SIZE]!),
    allocContig: (pfn) => seen.push(memory[pfn * PAGE_SIZE]!),
    free: noop,
    freeContig: noop,
    split: noop,
    merge: noop,
    fail: noop,
    pcpDrain: noop,
  };
  return { listener, seen };
}

describe("listener.alloc runs before GFP_ZERO", () => {
  it.each([false, true])("alloc_pages and alloc_contig (pcp %s)", (pcp) => {
    const memory = new Uint8Array(16 * MiB).fill(0x5a);
    const a = makeBuddy(16 * MiB, { memory, ...(pcp ? { pcp: { high: 64, batch: 8 } } : {}) });
    const { listener, seen } = recorder(memory);
    a.listener = listener;
    const block = a.allocPages(2, GFP.ZERO);
    const range = a.allocContig(5, { gfp: GFP.ZERO });
    expect(seen).toEqual([0x5a, 0x5a]);
    expect(memory.subarray(block, block + 4 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(memory.subarray(range, range + 5 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });
});

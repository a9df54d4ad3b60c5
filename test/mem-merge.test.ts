// Merging: a freed block coalesces with its buddy while the buddy is a free head of the same order
// (at the top order: mem-top-order-merge.test.ts).
import { describe, expect, it } from "vitest";
import { freeBlocks, makeBuddy, MiB } from "./helpers/mem.js";

describe("merge", () => {
  it("coalesces buddies back into the original block", () => {
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 });
    const before = buddy.buddyinfo();
    const pages = Array.from({ length: 64 }, () => buddy.allocPages(0));
    for (const p of pages.reverse()) buddy.freePages(p, 0);
    expect(buddy.buddyinfo()).toBe(before);
    buddy.checkInvariants();
  });

  it("merges 8 ^ (1 << 1) = 10: freeing frames 8-9 next to a free 10-11 makes an order-2 block at 8", () => {
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 });
    for (let o = 0; o < 10; o++) buddy.allocPages(o); // leave only the order-10 block at 4 MiB
    const base = 4 * MiB;
    const a = buddy.allocPages(1); // frames 1024-1025 of the block
    const b = buddy.allocPages(1); // 1026-1027
    expect([a, b]).toEqual([base, base + 0x2000]);
    buddy.freePages(b, 1);
    expect(buddy.freeBlockCount(1)).toBe(1);
    buddy.freePages(a, 1);
    expect(buddy.freeBlockCount(1)).toBe(0);
    expect(buddy.freeBlockCount(10)).toBe(1);
    buddy.checkInvariants();
  });

  it("never merges a free buddy of a different order", () => {
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 });
    for (let o = 0; o < 10; o++) buddy.allocPages(o);
    const a = buddy.allocPages(0); // frame 1024; 1025 free order 0, 1026 order 1, ...
    const b = buddy.allocPages(0); // frame 1025
    buddy.freePages(a, 0); // buddy 1025 is allocated: no merge
    expect(buddy.freeBlockCount(0)).toBe(1);
    buddy.freePages(b, 0); // now 1024+1025 merge, and on up to order 10
    expect(freeBlocks(buddy)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    buddy.checkInvariants();
  });
});

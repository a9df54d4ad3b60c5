// Merges at the top order, a known bug class: freeing a block whose buddy is a free block of maxOrder
// must stop at maxOrder (no block of maxOrder + 1, which the lists cannot hold) and must neither lose
// nor invent a frame; and no merge crosses a zone boundary, where two top-order buddies can both be
// free but belong to different zones.
import { describe, expect, it } from "vitest";
import { GFP } from "../src/mem/index.js";
import { freeBlocks, makeBuddy, MiB, shuffleInPlace } from "./helpers/mem.js";

describe("merges at the top order", () => {
  it("does not merge two free top-order buddies (maxOrder is the ceiling) and loses no frame", () => {
    const buddy = makeBuddy(16 * MiB, { maxOrder: 2 });
    const managed = buddy.managedPageCount;
    const top = [];
    for (;;) {
      const addr = buddy.allocPages(2);
      if (addr === 0) break;
      top.push(addr);
    }
    for (const addr of top) buddy.freePages(addr, 2);
    expect(buddy.freePageCount).toBe(buddy.managedPageCount);
    expect(buddy.managedPageCount).toBe(managed);
    // 4095 managed frames = 3 small edge frames + 1023 order-2 blocks.
    expect(freeBlocks(buddy)).toEqual([1, 1, 1023]);
    buddy.checkInvariants();
  });

  it("merges top-order buddies into nothing larger at maxOrder 18 and restores the whole pool", () => {
    const buddy = makeBuddy(2048 * MiB, { maxOrder: 18 });
    const before = buddy.buddyinfo();
    const blocks = [];
    for (let addr; (addr = buddy.allocPages(16, 2)) !== 0; ) blocks.push(addr);
    expect(blocks.length).toBeGreaterThan(0);
    for (const addr of blocks) buddy.freePages(addr, 16);
    expect(buddy.buddyinfo()).toBe(before);
    buddy.checkInvariants();
  });

  it("frees of every top-order block in any order restore the pool exactly (maxOrder 0 to 10)", () => {
    for (let maxOrder = 0; maxOrder <= 10; maxOrder++) {
      const buddy = makeBuddy(32 * MiB, { maxOrder });
      const before = buddy.buddyinfo();
      const blocks: number[] = [];
      for (let addr; (addr = buddy.allocPages(maxOrder)) !== 0; ) blocks.push(addr);
      // A fixed shuffle (xorshift32), so every pair of top-order buddies is freed in both orders.
      shuffleInPlace(blocks);
      for (const addr of blocks) buddy.freePages(addr, maxOrder);
      expect(buddy.buddyinfo(), `maxOrder ${maxOrder}`).toBe(before);
      expect(buddy.freePageCount).toBe(buddy.managedPageCount);
      buddy.checkInvariants();
    }
  });

  it("two free buddies on either side of the Normal/HighMem boundary never merge, even below maxOrder", () => {
    // 896 MiB is pfn 7 << 15: the order-15 blocks at 768 MiB (Normal) and 896 MiB (HighMem) are
    // buddies (196608 ^ 1 << 15 = 229376), and with maxOrder 18 a merge would make an order-16 block
    // across the boundary.
    const buddy = makeBuddy(1024 * MiB, { maxOrder: 18 });
    const normal = freeBlocks(buddy);
    const high = buddy.allocPages(15, GFP.HIGHMEM);
    expect(high).toBe(896 * MiB);
    const blocks: number[] = [];
    for (let addr; (addr = buddy.allocPages(15, GFP.KERNEL)) !== 0; ) blocks.push(addr);
    expect(blocks).toContain(768 * MiB);
    for (const addr of blocks) buddy.freePages(addr, 15);
    buddy.freePages(high, 15);
    expect(freeBlocks(buddy)).toEqual(normal);
    expect(buddy.zones().find((z) => z.name === "HighMem")!.free).toBe(32768);
    buddy.checkInvariants();
  });
});

// Splitting: an allocation takes the smallest block that fits and hands back upper halves (Linux expand).
import { describe, expect, it } from "vitest";
import { GFP } from "../src/mem/index.js";
import { freeBlocks, makeBuddy, MiB } from "./helpers/mem.js";

describe("split order", () => {
  it("splits a max-order block into one free block of each lower order and returns its lower half", () => {
    // 8 MiB: DMA zone only; frame 0 is never managed, so [0, 4 MiB) is cut into 1+2+4+...+512 frames.
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 });
    expect(freeBlocks(buddy)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const addr = buddy.allocPages(0);
    // The order-0 block at frame 1 serves it first: the smallest fitting block, no split.
    expect(addr).toBe(0x1000);
    expect(freeBlocks(buddy)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const next = buddy.allocPages(0);
    // Now the order-1 block at frame 2 splits: frame 2 is handed out, frame 3 goes to the order-0 list.
    expect(next).toBe(0x2000);
    expect(freeBlocks(buddy)).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    buddy.checkInvariants();
  });

  it("serves an order-3 request from the order-10 block by splitting down, lower half first", () => {
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 });
    // Take away every block below order 10 so that only the top block at 4 MiB remains.
    for (let o = 0; o < 10; o++) buddy.allocPages(o);
    expect(freeBlocks(buddy)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const addr = buddy.allocPages(3, GFP.DMA);
    expect(addr).toBe(4 * MiB);
    // Orders 3..9 each got one upper half back.
    expect(freeBlocks(buddy)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]);
    buddy.checkInvariants();
  });

  it("aligns every block to its size", () => {
    const buddy = makeBuddy(32 * MiB, { maxOrder: 10 });
    for (let o = 0; o <= 10; o++) {
      const addr = buddy.allocPages(o);
      expect(addr % (4096 * 2 ** o)).toBe(0);
    }
    buddy.checkInvariants();
  });
});

// The per-CPU page cache (Linux pcp lists): LIFO, refilled and drained `batch` at a time, drained above
// `high` and fully before an allocation fails; cached blocks keep their own state.
import { describe, expect, it } from "vitest";
import { BuddyError, FRAME_FREE, FRAME_PCP, FRAME_TAIL, GFP, PAGE_SIZE } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

const pcp = { high: 378, batch: 63 };

describe("per-CPU cache", () => {
  it("refills batch frames on the first order-0 allocation and counts them as free", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const free = buddy.freePageCount;
    const before = buddy.buddyinfo();
    buddy.allocPages(0);
    expect(buddy.freePageCount).toBe(free - 1);
    expect(buddy.pcpFrames()[1]!).toBe(62); // 63 moved to the cache, one handed out
    expect(buddy.buddyinfo()).not.toBe(before); // buddyinfo counts only the buddy lists
    buddy.checkInvariants();
  });

  it("is LIFO: a freed page is the next one handed out", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const a = buddy.allocPages(0);
    buddy.allocPages(0);
    buddy.freePages(a, 0);
    expect(buddy.allocPages(0)).toBe(a);
  });

  it("drains a batch, oldest first, when a zone reaches high", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const stateOf = (addr: number): number => buddy.stateAt(addr / PAGE_SIZE - buddy.basePfn);
    const pages = Array.from({ length: 400 }, () => buddy.allocPages(0, GFP.DMA));
    // Seven refills of 63 frames for 400 allocations: 441 - 400 = 41 stay cached.
    expect(buddy.pcpFrames()[0]!).toBe(41);
    for (let i = 0; i < 400; i++) {
      buddy.freePages(pages[i]!, 0);
      expect(buddy.pcpFrames()[0]!).toBeLessThan(378);
    }
    // 41 + 400 frames went in; each time the zone reached 378 the 63 oldest went back to the buddy
    // lists (at the 337th free and the 400th): the 41 cached before and the first 85 pages freed.
    expect(buddy.pcpFrames()[0]!).toBe(378 - 63);
    for (const p of pages.slice(0, 85)) expect([FRAME_FREE, FRAME_TAIL]).toContain(stateOf(p));
    for (const p of pages.slice(85)) expect(stateOf(p)).toBe(FRAME_PCP);
    buddy.checkInvariants();
  });

  it("a drain takes the oldest cached pages and tells the listener the frames it moved", () => {
    const buddy = makeBuddy(64 * MiB, { pcp: { high: 8, batch: 3 } });
    const pages = Array.from({ length: 8 }, () => buddy.allocPages(0, GFP.DMA));
    buddy.drain();
    const drains: [number, number][] = [];
    buddy.listener = { alloc() {}, free() {}, split() {}, merge() {}, allocContig() {}, freeContig() {}, fail() {}, pcpDrain: (zone, frames) => drains.push([zone, frames]) };
    const stateOf = (addr: number): number => buddy.stateAt(addr / PAGE_SIZE - buddy.basePfn);
    pages.forEach((p) => buddy.freePages(p, 0));
    // The eighth free reached high: the three oldest (p0..p2) went back to the buddy lists.
    expect(drains).toEqual([[0, 3]]);
    for (const p of pages.slice(0, 3)) expect([FRAME_FREE, FRAME_TAIL]).toContain(stateOf(p));
    for (const p of pages.slice(3)) expect(stateOf(p)).toBe(FRAME_PCP);
    // Blocks go back whole: the order-3 allocation refills two blocks and takes one; freeing it makes
    // 16 cached frames (>= high 8), and a drain of a batch of 3 moves one whole block: 8 frames.
    buddy.drain();
    const big = buddy.allocPages(3, GFP.DMA);
    expect(buddy.pcpFrames()[0]!).toBe(8);
    drains.length = 0;
    buddy.freePages(big, 3);
    expect(drains).toEqual([[0, 8]]);
    expect(buddy.pcpFrames()[0]!).toBe(8);
    buddy.checkInvariants();
  });

  it("catches a double free of a cached block", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const a = buddy.allocPages(1);
    buddy.freePages(a, 1); // now on the per-CPU list, not in the buddy lists
    expect(() => buddy.freePages(a, 1)).toThrow(/EDOUBLEFREE/);
    expect(() => buddy.freePages(a + 0x1000, 0)).toThrow(/EDOUBLEFREE/);
    buddy.checkInvariants();
  });

  it("drains fully before an allocation would fail", () => {
    const buddy = makeBuddy(4 * MiB, { pcp, maxOrder: 10 });
    const pages: number[] = [];
    for (let a; (a = buddy.allocPages(0)) !== 0; ) pages.push(a);
    expect(pages.length).toBe(buddy.managedPageCount);
    for (const p of pages) buddy.freePages(p, 0);
    expect(buddy.pcpFrames()[0]!).toBeGreaterThan(0);
    // An order-9 block exists only if the cached frames are merged back first.
    expect(buddy.allocPages(9)).toBe(2 * MiB);
    buddy.checkInvariants();
  });

  it("drain() empties the cache and buddyinfo returns to its boot text", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const before = buddy.buddyinfo();
    const blocks = [0, 1, 2, 3, 0, 1].map((o) => [buddy.allocPages(o), o] as const);
    for (const [a, o] of blocks) buddy.freePages(a, o);
    expect(buddy.buddyinfo()).not.toBe(before);
    buddy.drain();
    expect(buddy.buddyinfo()).toBe(before);
    expect(buddy.pcpFrames().every((n) => n === 0)).toBe(true);
  });

  it("rejects nonsense settings", () => {
    expect(() => makeBuddy(4 * MiB, { pcp: { high: 10, batch: 20 } })).toThrow(BuddyError);
    expect(() => makeBuddy(4 * MiB, { pcp: { high: 10, batch: 0 } })).toThrow(BuddyError);
  });
});

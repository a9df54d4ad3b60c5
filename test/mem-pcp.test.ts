// The per-CPU page cache (Linux pcp lists): LIFO, refilled and drained `batch` at a time, drained above
// `high` and fully before an allocation fails; cached blocks keep their own state.
import { describe, expect, it } from "vitest";
import { BuddyError, GFP } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

const pcp = { high: 378, batch: 63 };

describe("per-CPU cache", () => {
  it("refills batch frames on the first order-0 allocation and counts them as free", () => {
    const buddy = makeBuddy(64 * MiB, { pcp });
    const free = buddy.freePageCount;
    const before = buddy.buddyinfo();
    buddy.allocPages(0);
    expect(buddy.freePageCount).toBe(free - 1);
    expect(buddy.zones()[1]!.pcp).toBe(62); // 63 moved to the cache, one handed out
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
    const pages = Array.from({ length: 400 }, () => buddy.allocPages(0, GFP.DMA));
    const cached = buddy.zones()[0]!.pcp;
    for (let i = 0; i < 400; i++) {
      buddy.freePages(pages[i]!, 0);
      expect(buddy.zones()[0]!.pcp).toBeLessThan(378);
    }
    expect(cached).toBeLessThan(63);
    // The oldest frees went back to the buddy lists: the first page freed is no longer cached.
    buddy.checkInvariants();
    expect(buddy.zones()[0]!.pcp).toBeGreaterThan(378 - 63 - 1);
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
    expect(buddy.zones()[0]!.pcp).toBeGreaterThan(0);
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
    expect(buddy.zones().every((z) => z.pcp === 0)).toBe(true);
  });

  it("rejects nonsense settings", () => {
    expect(() => makeBuddy(4 * MiB, { pcp: { high: 10, batch: 20 } })).toThrow(BuddyError);
    expect(() => makeBuddy(4 * MiB, { pcp: { high: 10, batch: 0 } })).toThrow(BuddyError);
  });
});

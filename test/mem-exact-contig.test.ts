// alloc_pages_exact (round up, give the tail back at once) and alloc_contig (FreeBSD
// vm_phys_alloc_contig: exactly npages frames, alignment, low/high, boundary, runs past max order).
import { describe, expect, it } from "vitest";
import { GFP, PAGE_SIZE } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

describe("allocPagesExact", () => {
  it("takes exactly npages frames and returns the rest of the power-of-two block", () => {
    const buddy = makeBuddy(64 * MiB);
    const free = buddy.freePageCount;
    const addr = buddy.allocPagesExact(5);
    expect(buddy.freePageCount).toBe(free - 5);
    // Each frame is its own order-0 allocation (split_page), so frame 3 alone can be freed.
    buddy.freePages(addr + 3 * PAGE_SIZE, 0);
    expect(buddy.freePageCount).toBe(free - 4);
    expect(() => buddy.freePagesExact(addr, 5)).toThrow(/EDOUBLEFREE/);
    buddy.freePagesExact(addr, 3);
    buddy.freePages(addr + 4 * PAGE_SIZE, 0);
    expect(buddy.freePageCount).toBe(free);
    buddy.checkInvariants();
  });
});

describe("allocContig", () => {
  it("returns exactly npages frames, even more than a max-order block", () => {
    const buddy = makeBuddy(64 * MiB, { maxOrder: 4 });
    const free = buddy.freePageCount;
    const addr = buddy.allocContig(37);
    expect(buddy.freePageCount).toBe(free - 37);
    const run = buddy.allocContig(1000, { alignPages: 16 });
    expect(run % (16 * PAGE_SIZE)).toBe(0);
    expect(buddy.freePageCount).toBe(free - 1037);
    buddy.checkInvariants();
    buddy.freeContig(addr, 37);
    buddy.freeContig(run, 1000);
    expect(buddy.freePageCount).toBe(free);
    buddy.checkInvariants();
  });

  it("honours alignment, boundary, low and high addresses", () => {
    const buddy = makeBuddy(64 * MiB);
    buddy.allocPages(0); // make the low frames uneven
    const a = buddy.allocContig(3, { alignPages: 64 });
    expect(a % (64 * PAGE_SIZE)).toBe(0);
    const b = buddy.allocContig(8, { boundaryPages: 8, lowAddr: 40 * MiB + 0x5000 });
    expect(b).toBeGreaterThanOrEqual(40 * MiB + 0x5000);
    expect(Math.floor(b / PAGE_SIZE / 8)).toBe(Math.floor((b / PAGE_SIZE + 7) / 8));
    const c = buddy.allocContig(4, { highAddr: 8 * MiB, gfp: GFP.DMA });
    expect(c + 4 * PAGE_SIZE).toBeLessThanOrEqual(8 * MiB);
    expect(buddy.allocContig(4, { lowAddr: 60 * MiB, highAddr: 60 * MiB + 0x3000 })).toBe(0);
    buddy.checkInvariants();
  });

  it("stays inside one zone and falls back along the zone list", () => {
    const buddy = makeBuddy(32 * MiB);
    // Normal is [16 MiB, 32 MiB): 4096 frames. A 5000-frame run fits in no zone.
    expect(buddy.allocContig(5000)).toBe(0);
    const normal = buddy.allocContig(4096);
    expect(normal).toBe(16 * MiB);
    const dma = buddy.allocContig(100);
    expect(dma).toBeLessThan(16 * MiB);
    buddy.checkInvariants();
  });

  it("zeroes the range for GFP_ZERO in attached memory", () => {
    const memory = new Uint8Array(32 * MiB).fill(0xaa);
    const buddy = makeBuddy(32 * MiB, { memory });
    const a = buddy.allocContig(3, { gfp: GFP.ZERO });
    expect(memory.subarray(a, a + 3 * PAGE_SIZE).every((x) => x === 0)).toBe(true);
    expect(memory[a + 3 * PAGE_SIZE]).toBe(0xaa);
    const p = buddy.allocPages(2, GFP.ZERO);
    expect(memory.subarray(p, p + 4 * PAGE_SIZE).every((x) => x === 0)).toBe(true);
  });

  it("skips over allocated blocks and contig ranges to find a run", () => {
    const buddy = makeBuddy(8 * MiB, { maxOrder: 3 });
    const first = buddy.allocContig(5);
    const block = buddy.allocPages(3);
    const second = buddy.allocContig(20);
    expect(second).toBeGreaterThan(first);
    for (const [x, n] of [[first, 5], [second, 20]] as const)
      expect(x + n * PAGE_SIZE <= block || x >= block + 8 * PAGE_SIZE).toBe(true);
    buddy.checkInvariants();
  });
});

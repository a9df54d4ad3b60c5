// /proc/buddyinfo and the debugfs extfrag files, byte for byte against hand-computed text
// (mm/vmstat.c: frag_show_print, unusable_free_index, __fragmentation_index); and the one-pass form of
// the unusable index for every order of a row (unusableFreeIndexRow, the web page's chart), which must
// give exactly unusableFreeIndex's integers.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fragmentationIndex, unusableFreeIndex, unusableFreeIndexRow } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

describe("reports", () => {
  it("buddyinfo has Linux's exact layout", () => {
    const buddy = makeBuddy(32 * MiB, { maxOrder: 3 });
    // DMA: frames 1..4095 -> 1 (o0), 2-3 (o1), 4-7 (o2), then 511 order-3 blocks. Normal: 512 order-3.
    expect(buddy.buddyinfo()).toBe(
      "Node 0, zone      DMA      1      1      1    511 \n" + "Node 0, zone   Normal      0      0      0    512 \n",
    );
  });

  it("unusable index: share of free memory in blocks smaller than the order", () => {
    // 1 block of order 0, 1 of order 1, 1 of order 2: 7 free pages.
    const blocks = [1, 1, 1];
    expect(unusableFreeIndex(blocks, 0)).toBe(0);
    expect(unusableFreeIndex(blocks, 1)).toBe(142); // (7 - 6) * 1000 / 7 = 142.8
    expect(unusableFreeIndex(blocks, 2)).toBe(428); // (7 - 4) * 1000 / 7 = 428.5
    expect(unusableFreeIndex([0, 0, 0], 1)).toBe(1000);
  });

  it("fragmentation index: -1000 when it would succeed, else Linux's formula", () => {
    const blocks = [4, 2, 0, 0];
    expect(fragmentationIndex(blocks, 1)).toBe(-1000);
    // order 2: free_pages = 8, requested 4, total blocks 6: 1000 - (1000 + 8000/4) / 6 = 1000 - 500 = 500
    expect(fragmentationIndex(blocks, 2)).toBe(500);
    // order 3: 1000 - (1000 + 1000) / 6 = 1000 - 333 = 667
    expect(fragmentationIndex(blocks, 3)).toBe(667);
    expect(fragmentationIndex([0, 0], 1)).toBe(0);
  });

  it("prints both index files with Linux's formats", () => {
    const buddy = makeBuddy(16 * MiB, { maxOrder: 2 });
    // DMA: frames 1..4095 -> 1 (o0), 1 (o1), 1023 (o2); free = 4095.
    // unusable: o0 0; o1 (4095 - 2*2047)/4095 = 1/4095 -> 0; o2 (4095 - 4*1023)/4095 = 3/4095 -> 0.
    expect(buddy.unusableIndex()).toBe("Node 0, zone      DMA 0.000 0.000 0.000 \n");
    expect(buddy.extfragIndex()).toBe("Node 0, zone      DMA -1.000 -1.000 -1.000 \n");
    const empty = makeBuddy(16 * MiB, { maxOrder: 2 });
    while (empty.allocPages(0) !== 0);
    expect(empty.unusableIndex()).toBe("Node 0, zone      DMA 1.000 1.000 1.000 \n");
    expect(empty.extfragIndex()).toBe("Node 0, zone      DMA  0.000  0.000  0.000 \n");
  });

  it("a negative index above -1000 keeps its sign in the thousandths, as Linux's %2d.%03d prints it", () => {
    // One free page in the zone: for order k >= 1, 1000 - (1000 + 1000/2^k) / 1 = -(1000 >> k).
    const buddy = makeBuddy(16 * MiB, { maxOrder: 3 });
    const pages: number[] = [];
    for (let a; (a = buddy.allocPages(0)) !== 0; ) pages.push(a);
    buddy.freePages(pages[0]!, 0);
    expect([0, 1, 2, 3].map((o) => fragmentationIndex([1, 0, 0, 0], o))).toEqual([-1000, -500, -250, -125]);
    // gcc: printf("%2d.%03d ", v / 1000, v % 1000) for -1000, -500, -250, -125.
    expect(buddy.extfragIndex()).toBe("Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125 \n");
    // Orders 4 to 7: -62 down to -7, which C pads to three characters, its sign counted ("-07").
    const deep = makeBuddy(16 * MiB, { maxOrder: 7 });
    const all: number[] = [];
    for (let a; (a = deep.allocPages(0)) !== 0; ) all.push(a);
    deep.freePages(all[0]!, 0);
    expect(deep.extfragIndex()).toBe("Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125  0.-62  0.-31  0.-15  0.-07 \n");
  });

  it("shows fragmentation from a checkerboard of allocations", () => {
    const buddy = makeBuddy(16 * MiB, { maxOrder: 2 });
    const pages: number[] = [];
    for (let a; (a = buddy.allocPages(0)) !== 0; ) pages.push(a);
    pages.forEach((p, i) => i % 2 === 0 && buddy.freePages(p, 0));
    const text = buddy.unusableIndex();
    // Every free block is order 0 (no two free frames are buddies): orders 1 and 2 are fully unusable.
    expect(text).toBe("Node 0, zone      DMA 0.000 1.000 1.000 \n");
    // 2048 free frames in 2048 blocks. Order 0: a suitable block exists (-1000). Order 1: 1000 -
    // (1000 + 2048 * 1000 / 2) / 2048 = 1000 - 500 = 500 (integer division); order 2: 1000 -
    // (1000 + 2048 * 1000 / 4) / 2048 = 1000 - 250 = 750.
    expect(pages.length).toBe(4095);
    expect(buddy.extfragIndex()).toBe("Node 0, zone      DMA -1.000  0.500  0.750 \n");
  });
});

describe("unusableFreeIndexRow", () => {
  it("equals unusableFreeIndex for every order of any row", () => {
    const row = fc.array(fc.oneof(fc.constant(0), fc.nat(3), fc.nat(200_000)), { minLength: 1, maxLength: 19 });
    fc.assert(
      fc.property(row, (blocks) => {
        const out = new Float64Array(blocks.length);
        unusableFreeIndexRow(blocks, out);
        expect(Array.from(out)).toEqual(blocks.map((_, order) => unusableFreeIndex(blocks, order)));
      }),
      { numRuns: 2000 },
    );
  });

  it("an empty zone is all unusable; a zone of only max-order blocks has none unusable", () => {
    const out = new Float64Array(11);
    unusableFreeIndexRow(new Array<number>(11).fill(0), out);
    expect(Array.from(out)).toEqual(new Array<number>(11).fill(1000));
    unusableFreeIndexRow([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], out);
    expect(Array.from(out)).toEqual(new Array<number>(11).fill(0));
  });
});

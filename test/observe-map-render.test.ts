// The --map picture: one cell per frame up to 128 MiB and aggregated beyond (2 GiB: 16 frames a cell),
// every frame counted in exactly one legend category (free by order, per-CPU, allocated by owner,
// reserved by label, holes), zone boundaries, and a cell's colour being its frames' state.

import { describe, expect, it } from "vitest";
import { GFP, MemoryMap, BuddyAllocator } from "../src/mem/index.js";
import { MAP_MAX_CELLS, buildMapModel, renderMapSvg, takeSnapshot, type OwnedBlock } from "../src/observe/index.js";

const MiB = 2 ** 20;

function machineLike(ramBytes: number): { buddy: BuddyAllocator; map: MemoryMap } {
  const map = new MemoryMap();
  map.addUsable(0, 0xa0000);
  map.addUsable(0xc0000, ramBytes - 0xc0000);
  map.reserve(0, 4096, "frame 0");
  map.reserve(0xa0000, 0x60000, "VGA and ROM hole");
  map.reserve(0x100000, 0x20000, "kernel image");
  return { buddy: new BuddyAllocator(map, { pcp: { high: 378, batch: 63 } }), map };
}

describe("memory map picture", () => {
  it("at 2 GiB: 16 frames a cell, every frame in one category, zones marked", () => {
    const ram = 2048 * MiB - 128 * 1024;
    const { buddy, map } = machineLike(ram);
    const blocks: OwnedBlock[] = [];
    for (let i = 0; i < 3000; i++) {
      const order = i % 7;
      const addr = buddy.allocPages(order, GFP.HIGHMEM);
      blocks.push({ pfn: addr / 4096, npages: 2 ** order, owner: i % 3 === 0 ? "page_cache_alloc" : i % 3 === 1 ? "kmalloc_large" : `f${i % 20}` });
    }
    const contig = buddy.allocContig(3000, { gfp: GFP.DMA });
    blocks.push({ pfn: contig / 4096, npages: 3000, owner: "dma_buffers" });
    const snap = takeSnapshot(buddy, map, ram, 42);
    const model = buildMapModel(snap, blocks, "test map");
    expect(model.framesPerCell).toBe(16);
    expect(model.cells.length).toBeLessThanOrEqual(MAP_MAX_CELLS);
    expect(model.rows).toBe(128);
    expect(model.categories.reduce((n, c) => n + c.frames, 0)).toBe(snap.ramPfns);
    const cat = (name: string) => model.categories.find((c) => c.name === name);
    const framesOf = (owner: string) => blocks.filter((b) => b.owner === owner).reduce((n, b) => n + b.npages, 0);
    expect(cat("allocated by page_cache_alloc")!.frames).toBe(framesOf("page_cache_alloc"));
    expect(cat("allocated by dma_buffers")!.frames).toBe(3000);
    expect(cat("reserved: kernel image")!.frames).toBe(32);
    expect(cat("reserved: VGA and ROM hole")!.frames).toBe(96);
    const free = buddy.zones().reduce((n, z) => n + z.free, 0);
    const freeCats = model.categories.filter((c) => c.name.startsWith("free, order")).reduce((n, c) => n + c.frames, 0);
    expect(freeCats).toBe(free);
    expect(cat("free, per-CPU lists")!.frames).toBe(buddy.freePageCount - free);
    expect(model.zoneStarts).toEqual([
      { pfn: 0x1000, name: "Normal" },
      { pfn: 0x38000, name: "HighMem" },
    ]);
    const svg = renderMapSvg(model);
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    for (const c of model.categories.filter((c) => c.frames > 0)) expect(svg).toContain(`>${c.name}: ${c.frames}</text>`);
    expect(svg).toContain("Normal →");
    expect(svg).toContain("HighMem →");
    expect(svg).toContain("16 frames (64 KiB) per cell, 16 MiB per row");
  });

  it("at 128 MiB: one frame a cell, coloured by its own state", () => {
    const ram = 128 * MiB;
    const { buddy, map } = machineLike(ram);
    const a = buddy.allocPages(3, GFP.KERNEL);
    const b = buddy.allocPages(0, GFP.KERNEL);
    const snap = takeSnapshot(buddy, map, ram, 1);
    const model = buildMapModel(snap, [{ pfn: a / 4096, npages: 8, owner: "alpha" }], "t");
    expect(model.framesPerCell).toBe(1);
    const nameAt = (pfn: number) => model.categories[model.cells[pfn]!]!.name;
    for (let i = 0; i < 8; i++) expect(nameAt(a / 4096 + i)).toBe("allocated by alpha");
    expect(nameAt(b / 4096)).toBe("allocated (owner unknown)");
    expect(nameAt(0)).toBe("reserved: frame 0");
    expect(nameAt(0x100)).toBe("reserved: kernel image");
    expect(nameAt(0xa0)).toBe("reserved: VGA and ROM hole");
    expect(nameAt(0x7000)).toBe("free, order 10");
  });
});

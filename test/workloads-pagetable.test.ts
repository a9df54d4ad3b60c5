// The pagetable workload at every RAM size, judged from the host: besides the usual checks, the
// host reads the guest's page directory and tables while they are still live (at the workload's
// first free) and checks that they were built from frames it handed out, map each data frame at
// 0xC0000000 + i pages with the MMU's accessed and dirty bits set, and identity-map the kernel.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import type { BridgeObserver, HypercallBridge } from "../src/machine/index.js";
import { GUEST_TIMEOUT_MS, RAM_SIZES, bootGuest, field, judge, summaryLine, transcript } from "./workload-fixtures.js";

const PRESENT = 0x1;
const ACCESSED = 0x20;
const DIRTY = 0x40;
const FRAME_MASK = 0xfffff000;
const DATA_PDE = 0xc0000000 >>> 22;
const GFP_KERNEL_ZERO = 0x100;
const GFP_HIGHMEM = 0x2;

/** What the host found in the guest's page tables. */
interface Walk {
  tables: number;
  dataPages: number;
  /** Frames mapped at 0xC0000000 and up, and every page mapped to itself. */
  readonly dataFrames: number[];
  readonly identity: Set<number>;
  readonly problems: string[];
}

/** Records the gfp of every page handed out; walks the page directory at the first free. */
class PageTableWalker implements BridgeObserver {
  walk: Walk | null = null;
  private bridge: HypercallBridge | null = null;
  private readonly gfpOf = new Map<number, number>();
  private directory = -1;

  attach(bridge: HypercallBridge): void {
    this.bridge = bridge;
  }

  onCall(_seq: number, cmd: number, arg0: number, arg1: number, _arg2: number, result: number, status: number): void {
    if (status !== Status.OK) return;
    if (cmd === Cmd.ALLOC_PAGES && arg0 === 0) {
      // The directory is the workload's first zeroed GFP_KERNEL page.
      if (this.directory < 0 && arg1 === GFP_KERNEL_ZERO) this.directory = result >>> 0;
      this.gfpOf.set(result >>> 0, arg1);
    } else if (cmd === Cmd.FREE_PAGES && this.walk === null && this.directory >= 0) {
      this.walk = this.walkDirectory(new DataView(this.bridge!.guestRam.buffer, this.bridge!.guestRam.byteOffset));
    }
  }

  private walkDirectory(ram: DataView): Walk {
    const walk: Walk = { tables: 0, dataPages: 0, dataFrames: [], identity: new Set(), problems: [] };
    for (let i = 0; i < 1024; i++) {
      const pde = ram.getUint32(this.directory + 4 * i, true);
      if ((pde & PRESENT) === 0) continue;
      const table = (pde & FRAME_MASK) >>> 0;
      walk.tables++;
      if (this.gfpOf.get(table) !== GFP_KERNEL_ZERO) walk.problems.push(`PDE ${i}: table 0x${table.toString(16)} is not a zeroed page the host handed out`);
      for (let j = 0; j < 1024; j++) {
        const pte = ram.getUint32(table + 4 * j, true);
        if ((pte & PRESENT) === 0) continue;
        const va = ((i << 22) | (j << 12)) >>> 0;
        const pa = (pte & FRAME_MASK) >>> 0;
        if (i >= DATA_PDE) {
          walk.dataPages++;
          walk.dataFrames.push(pa);
          if (this.gfpOf.get(pa) !== GFP_HIGHMEM) walk.problems.push(`va 0x${va.toString(16)} maps 0x${pa.toString(16)}, not a GFP_HIGHMEM page`);
          if ((pte & (ACCESSED | DIRTY)) !== (ACCESSED | DIRTY)) walk.problems.push(`va 0x${va.toString(16)}: PTE 0x${pte.toString(16)} lacks accessed/dirty`);
          if (va !== (0xc0000000 + (walk.dataPages - 1) * 4096) >>> 0) walk.problems.push(`va 0x${va.toString(16)}: data pages are not contiguous from 0xC0000000`);
        } else {
          walk.identity.add(va);
          if (pa !== va) walk.problems.push(`va 0x${va.toString(16)} maps 0x${pa.toString(16)}: not an identity mapping`);
        }
      }
    }
    return walk;
  }
}

describe("workload pagetable", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const walker = new PageTableWalker();
    const { r, ledger } = await bootGuest("workload=pagetable seed=9", bytes, walker);
    judge(r, ledger);
    const line = summaryLine(r, "pagetable");
    expect(line, transcript(r)).toMatch(/^pagetable: PASS /);
    const walk = walker.walk!;
    expect(walk.problems).toEqual([]);
    expect(walk.dataPages).toBe(field(line, "pages"));
    expect(walk.dataPages).toBeGreaterThan(1000);
    expect(walk.tables).toBe(field(line, "tables"));
    // Every data frame is identity-mapped too, and so is the kernel's low memory up to its end.
    expect(walk.dataFrames.filter((pa) => !walk.identity.has(pa))).toEqual([]);
    const kernel = r.memoryMap!.reserved().find((x) => x.label === "kernel image")!;
    for (let va = 0x1000; va < kernel.end; va += 0x1000) expect(walk.identity.has(va), `identity page 0x${va.toString(16)}`).toBe(true);
  }, GUEST_TIMEOUT_MS);
});

// MEMMAP, the memory-map hook: what it reserves, what it logs, and every malformed multiboot
// structure the ABI names, with EINVAL > EFAULT precedence and "a failed MEMMAP changes nothing".

import { describe, expect, it } from "vitest";
import { Cmd, LIMITS, Status } from "../src/protocol/abi.js";
import type { Elf32Image } from "../src/machine/index.js";
import {
  IMAGE_END,
  IMAGE_START,
  INFO_ADDR,
  MiB,
  bootedGuest,
  expectStatus,
  fakeGuest,
  v86Entries,
  type FakeGuest,
} from "./bridge-fixtures.js";
import { observedGuest } from "./observe-fixtures.js";

const PAGE = 4096;
const pfnOf = (addr: number) => Math.floor(addr / PAGE);

function managed(g: FakeGuest, addr: number): boolean {
  return g.bridge.allocator!.isManagedPfn(pfnOf(addr));
}

describe("MEMMAP builds the allocator over guest RAM", () => {
  it("returns the managed frame count and keeps every required range out", () => {
    const g = fakeGuest({ ramBytes: 32 * MiB });
    expectStatus(g, Status.OK, Cmd.RESERVE, 0x200000, 0x3000);
    expectStatus(g, Status.OK, Cmd.RESERVE, 0x300800, 1); // one byte reserves its whole frame
    const r = g.memmap();
    expect(r.status).toBe(Status.OK);
    const a = g.bridge.allocator!;
    expect(r.result).toBe(a.managedPageCount);
    expect(g.bridge.call(Cmd.STAT, 1).result).toBe(r.result);

    expect(managed(g, 0)).toBe(false); // frame 0
    for (let addr = 0xa0000; addr < 0x100000; addr += PAGE) expect(managed(g, addr)).toBe(false);
    expect(managed(g, INFO_ADDR)).toBe(false); // the info (and the cmdline and map after it)
    expect(managed(g, g.mmapAddr + g.mmapLength - 1)).toBe(false);
    for (let addr = IMAGE_START; addr < IMAGE_END; addr += PAGE) expect(managed(g, addr)).toBe(false);
    for (const addr of [0x200000, 0x201000, 0x202000, 0x300000]) expect(managed(g, addr)).toBe(false);
    expect(managed(g, 0x203000)).toBe(true);
    expect(managed(g, 0x301000)).toBe(true);
    expect(managed(g, 0x1000)).toBe(true);
    expect(managed(g, 0x9f000)).toBe(true);
    expect(managed(g, IMAGE_END)).toBe(true);
    expect(managed(g, 32 * MiB - PAGE)).toBe(true);

    // 0x1000..0x9ffff, 0x100000..end, minus the info page and the reserved frames.
    const expected = (0xa0000 - PAGE) / PAGE + (32 * MiB - 0x100000) / PAGE - 1 - (IMAGE_END - IMAGE_START) / PAGE - 3 - 1;
    expect(a.managedPageCount).toBe(expected);
    expect(a.freePageCount).toBe(expected);
    a.checkInvariants();
  });

  it("keeps only type-1 ranges, clipped to RAM and rounded inward to whole frames", () => {
    const g = bootedGuest({
      ramBytes: 8 * MiB,
      entries: [
        { base: 0, length: 0xa0000, type: 1 },
        { base: 0x100000, length: 0x100800, type: 1 }, // ends mid-frame at 0x200800
        { base: 0x200800, length: 0x1000, type: 2 }, // reserved by the firmware
        { base: 0x300100, length: 0x100000, type: 1 }, // starts mid-frame
        { base: 0x500000, length: 0x100000, type: 3 }, // ACPI data
        { base: 0x700000, length: 2 ** 33, type: 1 }, // runs past RAM and past 4 GiB
        { base: 2 ** 32 + 0x1000, length: 0x1000, type: 1 }, // above 4 GiB
      ],
    });
    const expectManaged = (addr: number, yes: boolean) => expect(managed(g, addr), `0x${addr.toString(16)}`).toBe(yes);
    expectManaged(0x1ff000, true);
    expectManaged(0x200000, false); // only half of it is RAM
    expectManaged(0x300000, false); // the same at the start of a range
    expectManaged(0x301000, true);
    expectManaged(0x3ff000, true);
    expectManaged(0x400000, false);
    expectManaged(0x500000, false);
    expectManaged(0x700000, true);
    expectManaged(8 * MiB - PAGE, true);
    expect(g.bridge.allocator!.isManagedPfn(8 * 256)).toBe(false);
  });

  it("never hands out a frame another type claims under a type-1 entry, and merges touching type-1 entries before rounding", () => {
    const g = bootedGuest({
      ramBytes: 8 * MiB,
      entries: [
        { base: 0, length: 0xa0000, type: 1 },
        { base: 0x100000, length: 0x300000, type: 1 },
        { base: 0x200000, length: 0x1000, type: 2 }, // the firmware reserves a frame inside RAM
        { base: 0x280800, length: 0x10, type: 3 }, // 16 bytes of ACPI data: their whole frame
        { base: 0x400000, length: 0x100800, type: 1 }, // ends mid-frame ...
        { base: 0x500800, length: 0x100000, type: 1 }, // ... where the next one starts
      ],
    });
    const expectManaged = (addr: number, yes: boolean) => expect(managed(g, addr), `0x${addr.toString(16)}`).toBe(yes);
    expectManaged(0x1ff000, true);
    expectManaged(0x200000, false);
    expectManaged(0x201000, true);
    expectManaged(0x280000, false);
    expectManaged(0x281000, true);
    expectManaged(0x500000, true); // RAM from end to end: two entries, one frame
    expectManaged(0x5ff000, true);
    expectManaged(0x600000, false); // half RAM
    const log = g.bridge.bootLog.join("\n");
    expect(log).toContain("reserved:  [mem 0x0000000000200000-0x0000000000200fff] firmware type 2");
    expect(log).toContain("reserved:  [mem 0x0000000000280800-0x000000000028080f] firmware type 3");
    // Nothing handed out lies in a firmware range.
    const a = g.bridge.allocator!;
    for (let addr; (addr = a.allocPages(0)) !== 0; ) expect(addr === 0x200000 || addr === 0x280000).toBe(false);
  });

  it("logs the map like Linux's boot log", () => {
    const g = bootedGuest({ ramBytes: 32 * MiB, cmdline: "workload=churn ops=5" });
    const log = g.bridge.bootLog.join("\n");
    expect(log).toContain("BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable");
    expect(log).toContain("BIOS-e820: [mem 0x00000000000c0000-0x0000000001ffffff] usable");
    expect(log).toContain("Command line: workload=churn ops=5");
    expect(log).toContain("reserved:  [mem 0x0000000000000000-0x0000000000000fff] frame 0");
    expect(log).toContain("reserved:  [mem 0x00000000000a0000-0x00000000000fffff] VGA and ROM hole");
    expect(log).toContain("reserved:  [mem 0x0000000000007c00-0x0000000000007c73] multiboot info");
    expect(log).toContain("reserved:  [mem 0x0000000000007c74-0x0000000000007c88] multiboot cmdline");
    expect(log).toContain(`reserved:  [mem 0x0000000000007c89-0x${(0x7c89 + 47).toString(16).padStart(16, "0")}] multiboot memory map`);
    expect(log).toContain("reserved:  [mem 0x0000000000100000-0x000000000010ffff] kernel image");
    expect(log).toContain("Zone ranges:");
    expect(log).toMatch(/ {2}DMA {6}\[mem 0x0000000000001000-0x0000000000ffffff\] \d+ managed frames/);
    expect(log).toMatch(/ {2}Normal {3}\[mem 0x0000000001000000-0x0000000001ffffff\] 4096 managed frames/);
    expect(log).toContain("  HighMem  empty");
    expect(log).toMatch(/Memory: \d+K\/32768K available/);
  });

  it("warns when the reported image range misses a PT_LOAD segment of the kernel ELF", () => {
    const segment = { type: 1, offset: 0, vaddr: 0x100000, paddr: 0x100000, filesz: 0x8000, memsz: 0x20000, flags: 7 };
    const elf: Elf32Image = { entry: 0x100000, segments: [segment], loadSegments: [segment], symbols: [] };
    const short = bootedGuest({ kernelElf: elf }); // reports [0x100000, 0x110000): bss beyond is missed
    expect(short.bridge.bootLog.join("\n")).toContain(
      "WARNING: MEMMAP kernel image [0x100000, 0x110000) misses PT_LOAD segment [mem 0x0000000000100000-0x000000000011ffff]",
    );
    const inside = { ...segment, memsz: 0x10000 };
    const ok = bootedGuest({ kernelElf: { ...elf, segments: [inside], loadSegments: [inside] } });
    expect(ok.bridge.bootLog.join("\n")).not.toContain("WARNING");
  });

  it("uses the bridge's maxOrder and pcp options", () => {
    const g = bootedGuest({ maxOrder: 5, pcp: false });
    expect(g.bridge.call(Cmd.STAT, 2).result).toBe(5);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 6, 0);
  });
});

describe("MEMMAP rejects what the ABI names, and changes nothing", () => {
  it("ESTATE the second time", () => {
    const g = bootedGuest();
    expectStatus(g, Status.ESTATE, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.ESTATE, Cmd.MEMMAP, 0xffffffff, 2, 1); // ESTATE > EINVAL > EFAULT
  });

  it("EINVAL for end < start, before reading anything (and over EFAULT)", () => {
    const g = fakeGuest();
    expectStatus(g, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_END, IMAGE_START);
    expectStatus(g, Status.EINVAL, Cmd.MEMMAP, 0xfffffff0, 2, 1);
    expect(g.memmap().status).toBe(Status.OK); // empty image [start, start) is fine
  });

  it("EFAULT for an info not fully inside RAM, or inside the VGA window", () => {
    const g = fakeGuest({ ramBytes: 16 * MiB });
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, 16 * MiB, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, 16 * MiB - LIMITS.MULTIBOOT_INFO_SIZE + 1, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, 0xffffffff, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, 0xa0000 - 8, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, 0xb0000, IMAGE_START, IMAGE_END);
    // Just inside RAM is fine for the info itself (its flags then decide).
    expectStatus(g, Status.EINVAL, Cmd.MEMMAP, 16 * MiB - LIMITS.MULTIBOOT_INFO_SIZE, IMAGE_START, IMAGE_END);
  });

  it("EINVAL without flags bit 6", () => {
    const g = fakeGuest();
    g.dv.setUint32(INFO_ADDR, 1 << 2, true);
    expectStatus(g, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
  });

  it("EINVAL for an entry size below 20, an entry overrunning the map, or a cut size field", () => {
    const small = fakeGuest({ entries: [{ base: 0, length: 0xa0000, type: 1, size: 19 }] });
    expectStatus(small, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);

    const overrun = fakeGuest();
    overrun.dv.setUint32(INFO_ADDR + 44, overrun.mmapLength - 1, true);
    expectStatus(overrun, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);

    const cut = fakeGuest();
    cut.dv.setUint32(INFO_ADDR + 44, cut.mmapLength + 2, true); // 2 stray bytes: half a size field
    expectStatus(cut, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);

    // A larger size field is fine: the entry just carries padding.
    const padded = fakeGuest({ entries: v86Entries(32 * MiB).map((e) => ({ ...e, size: 28 })) });
    expect(padded.memmap().status).toBe(Status.OK);
  });

  it("accepts 128 entries and refuses 129 with EINVAL", () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ base: 0x1000000 + i * 0x10000, length: 0x10000, type: 1 }));
    const at128 = fakeGuest({ entries: entries(LIMITS.MMAP_MAX_ENTRIES) });
    expect(at128.memmap().status).toBe(Status.OK);
    const at129 = fakeGuest({ entries: entries(LIMITS.MMAP_MAX_ENTRIES + 1) });
    expectStatus(at129, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
  });

  it("EFAULT for a map that is not fully inside RAM", () => {
    const g = fakeGuest({ ramBytes: 16 * MiB });
    g.dv.setUint32(INFO_ADDR + 48, 16 * MiB - 24, true);
    g.dv.setUint32(INFO_ADDR + 44, 48, true);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    g.dv.setUint32(INFO_ADDR + 48, 0xfffffff0, true); // wraps past 4 GiB
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
  });

  it("cmdline: a NUL within 4 KiB is required (EINVAL), and it must lie in RAM (EFAULT)", () => {
    const longest = "x".repeat(LIMITS.CMDLINE_MAX - 1);
    expect(fakeGuest({ cmdline: longest }).memmap().status).toBe(Status.OK);
    const tooLong = fakeGuest({ cmdline: longest + "x" });
    expectStatus(tooLong, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);

    const g = fakeGuest({ ramBytes: 16 * MiB });
    g.dv.setUint32(INFO_ADDR + 16, 16 * MiB, true); // starts past RAM
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    g.ram.fill(0x41, 16 * MiB - 100); // runs off the end of RAM before a NUL
    g.dv.setUint32(INFO_ADDR + 16, 16 * MiB - 100, true);
    expectStatus(g, Status.EFAULT, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    g.ram[16 * MiB - 1] = 0; // the NUL in the last byte of RAM
    expect(g.memmap().status).toBe(Status.OK);
  });

  it("EINVAL beats EFAULT across structures", () => {
    // The map is outside RAM (EFAULT) but the cmdline has no NUL (EINVAL).
    const a = fakeGuest({ cmdline: "y".repeat(LIMITS.CMDLINE_MAX) });
    a.dv.setUint32(INFO_ADDR + 48, 0xfffff000, true);
    expectStatus(a, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    // An entry is malformed (EINVAL) and the cmdline pointer is outside RAM (EFAULT).
    const b = fakeGuest({ entries: [{ base: 0, length: 0xa0000, type: 1, size: 8 }] });
    b.dv.setUint32(INFO_ADDR + 16, 0xfffffff0, true);
    expectStatus(b, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
  });

  it("OK with 0 frames for a map that leaves none: an allocator of nothing, observed and reported", () => {
    // PROTOCOL.md's MEMMAP answers the number of managed frames, and none of its EINVAL cases is this
    // one: the guest gets an allocator in which every allocation is ENOMEM and every free EFAULT.
    const obs = observedGuest({ owners: true }, 32 * MiB, [{ base: 0x1000000, length: 0x1000000, type: 2 }]);
    const g = obs.g;
    expect(obs.memmap).toEqual({ result: 0, status: Status.OK });
    expect(g.bridge.allocator!.managedPageCount).toBe(0);
    expectStatus(g, Status.ESTATE, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_PAGES, 0, 0);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_PAGES, 0, 0x102);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_CONTIG, 1, 1, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 11, 0);
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, 0x1000000, 0);
    expectStatus(g, Status.EFAULT, Cmd.FREE_CONTIG, 0x1000000, 1);
    for (const item of [0, 1, 3, 4]) expect(g.bridge.call(Cmd.STAT, item, 0), `STAT ${item}`).toEqual({ result: 0, status: Status.OK });
    expect(g.bridge.call(Cmd.STAT, 2, 0)).toEqual({ result: 10, status: Status.OK });
    expect(g.bridge.allocator!.buddyinfo()).toBe("");
    g.bridge.allocator!.checkInvariants();
    // The observers and the end-of-run reports take it too.
    const end = obs.session.finish(obs.result());
    expect(end.reportsText).toContain("reports at the end");
    expect(obs.session.hub.depot.size).toBeGreaterThan(0);
  });

  it("a failed MEMMAP may be retried, and page commands stay ESTATE until it succeeds", () => {
    const g = fakeGuest();
    g.dv.setUint32(INFO_ADDR, 0, true);
    expectStatus(g, Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    expect(g.bridge.allocator).toBeNull();
    expectStatus(g, Status.ESTATE, Cmd.ALLOC_PAGES, 0, 0);
    expectStatus(g, Status.OK, Cmd.RESERVE, 0x400000, 0x1000); // still before MEMMAP
    g.dv.setUint32(INFO_ADDR, (1 << 6) | (1 << 2), true);
    expect(g.memmap().status).toBe(Status.OK);
    expect(g.bridge.allocator!.isManagedPfn(0x400)).toBe(false);
    expect(g.bridge.call(Cmd.ALLOC_PAGES, 0, 0).status).toBe(Status.OK);
  });
});

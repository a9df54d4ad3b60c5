// Every command of the ABI through the port handler, with the statuses and precedence the contract
// names: ENOSYS > ESTATE > EINVAL > EFAULT > (EDOUBLEFREE, ENOTHEAD, EBADORDER) > ENOMEM. Every
// rejected call must leave the allocator exactly as it was and return EAX = 0 (HELLO excepted).

import { describe, expect, it } from "vitest";
import { ABI_VERSION, Cmd, LIMITS, Status } from "../src/protocol/abi.js";
import { IMAGE_START, MiB, bootedGuest, expectStatus, fakeGuest } from "./bridge-fixtures.js";

const PAGE = 4096;
const GFP_DMA = 0x1;
const GFP_HIGHMEM = 0x2;
const GFP_ZERO = 0x100;

describe("HELLO", () => {
  it("answers the host version, OK for version 1 and EVERSION otherwise, before and after MEMMAP", () => {
    const g = fakeGuest();
    expect(g.bridge.call(Cmd.HELLO, 1)).toEqual({ result: ABI_VERSION, status: Status.OK });
    expect(g.bridge.call(Cmd.HELLO, 2)).toEqual({ result: ABI_VERSION, status: Status.EVERSION });
    expect(g.bridge.call(Cmd.HELLO, 0)).toEqual({ result: ABI_VERSION, status: Status.EVERSION });
    expect(g.memmap().status).toBe(Status.OK);
    expectStatus(g, Status.EVERSION, Cmd.HELLO, 0xffffffff);
    expect(g.bridge.call(Cmd.HELLO, 1)).toEqual({ result: ABI_VERSION, status: Status.OK });
  });
});

describe("unknown commands", () => {
  it("ENOSYS, before MEMMAP too (ENOSYS > ESTATE)", () => {
    const g = fakeGuest();
    for (const cmd of [0x03, 0x0f, 0x14, 0x22, 0x31, 0x3e, 0x40, 0x100, 0x7fffffff, 0xffffffff]) expectStatus(g, Status.ENOSYS, cmd, 1, 2, 3);
    g.memmap();
    for (const cmd of [0x03, 0x14, 0xffffffff]) expectStatus(g, Status.ENOSYS, cmd);
    expect(g.bridge.counters.snapshot().unknownCalls).toBe(13);
  });
});

describe("before MEMMAP", () => {
  it("page commands, STAT and BATCH answer ESTATE whatever their arguments (ESTATE > EINVAL > EFAULT)", () => {
    const g = fakeGuest();
    expectStatus(g, Status.ESTATE, Cmd.ALLOC_PAGES, 0, 0);
    expectStatus(g, Status.ESTATE, Cmd.ALLOC_PAGES, 99, 0xdead);
    expectStatus(g, Status.ESTATE, Cmd.FREE_PAGES, 0x123, 99);
    expectStatus(g, Status.ESTATE, Cmd.ALLOC_CONTIG, 0, 3, 0xdead);
    expectStatus(g, Status.ESTATE, Cmd.FREE_CONTIG, 0x123, 0);
    expectStatus(g, Status.ESTATE, Cmd.STAT, 0);
    expectStatus(g, Status.ESTATE, Cmd.STAT, 99);
    expectStatus(g, Status.ESTATE, Cmd.BATCH, 0x10000, 1);
    expectStatus(g, Status.ESTATE, Cmd.BATCH, 0xffffffff, 0);
    expect(g.bridge.allocator).toBeNull();
  });
});

describe("RESERVE", () => {
  it("EINVAL for length 0 or a range wrapping past 4 GiB; a range ending exactly at 4 GiB is fine", () => {
    const g = fakeGuest();
    expectStatus(g, Status.EINVAL, Cmd.RESERVE, 0x200000, 0);
    expectStatus(g, Status.EINVAL, Cmd.RESERVE, 0xfffff000, 0x2000);
    expectStatus(g, Status.EINVAL, Cmd.RESERVE, 0xffffffff, 0xffffffff);
    expectStatus(g, Status.OK, Cmd.RESERVE, 0xfffff000, 0x1000);
    expect(g.bridge.reservations).toEqual([{ base: 0xfffff000, length: 0x1000 }]);
  });

  it("takes 64 ranges and refuses the 65th with EINVAL", () => {
    const g = fakeGuest();
    for (let i = 0; i < LIMITS.RESERVE_MAX_RANGES; i++) expectStatus(g, Status.OK, Cmd.RESERVE, 0x1000000 + i * 0x2000, 0x1000);
    expectStatus(g, Status.EINVAL, Cmd.RESERVE, 0x3000000, 0x1000);
    expect(g.memmap().status).toBe(Status.OK);
    for (let i = 0; i < LIMITS.RESERVE_MAX_RANGES; i++) {
      expect(g.bridge.allocator!.isManagedPfn((0x1000000 + i * 0x2000) / PAGE)).toBe(false);
      expect(g.bridge.allocator!.isManagedPfn((0x1001000 + i * 0x2000) / PAGE)).toBe(true);
    }
  });

  it("ESTATE after MEMMAP, even with a bad length (ESTATE > EINVAL)", () => {
    const g = bootedGuest();
    expectStatus(g, Status.ESTATE, Cmd.RESERVE, 0x200000, 0x1000);
    expectStatus(g, Status.ESTATE, Cmd.RESERVE, 0x200000, 0);
  });
});

describe("ALLOC_PAGES and FREE_PAGES", () => {
  it("hands out aligned blocks of managed RAM and takes them back", () => {
    const g = bootedGuest();
    const a = g.bridge.allocator!;
    const free = a.freePageCount;
    for (let order = 0; order <= a.maxOrder; order++) {
      const addr = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, order, 0);
      expect(addr % (PAGE << order)).toBe(0);
      expect(addr + (PAGE << order)).toBeLessThanOrEqual(32 * MiB);
      expect(a.isManagedPfn(addr / PAGE)).toBe(true);
      expectStatus(g, Status.OK, Cmd.FREE_PAGES, addr, order);
    }
    expect(a.freePageCount).toBe(free);
    a.checkInvariants();
  });

  it("EINVAL for an order above max, unknown gfp bits, or GFP_DMA|GFP_HIGHMEM", () => {
    const g = bootedGuest();
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 11, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0xffffffff, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0x80000000, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0, 0x4);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0, 0x80000000);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0, GFP_DMA | GFP_HIGHMEM);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_PAGES, 0, GFP_DMA | GFP_HIGHMEM | GFP_ZERO);
  });

  it("GFP_ZERO zeroes the block's bytes in guest RAM; GFP_DMA stays below 16 MiB", () => {
    const g = bootedGuest({ fill: 0xcc });
    const addr = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 2, GFP_ZERO | GFP_DMA);
    expect(addr).toBeLessThan(16 * MiB);
    expect(g.ram.subarray(addr, addr + 4 * PAGE).every((b) => b === 0)).toBe(true);
    expect(g.ram[addr + 4 * PAGE]).toBe(0xcc);
    const dirty = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 0, 0);
    expect(g.ram[dirty]).toBe(0xcc);
  });

  it("ENOMEM with EAX 0 when nothing fits, and everything comes back", () => {
    const g = bootedGuest({ ramBytes: 4 * MiB });
    const a = g.bridge.allocator!;
    const free = a.freePageCount;
    const got: number[] = [];
    for (;;) {
      const r = g.bridge.call(Cmd.ALLOC_PAGES, 0, GFP_HIGHMEM);
      if (r.status === Status.ENOMEM) {
        expect(r.result).toBe(0);
        break;
      }
      expect(r.status).toBe(Status.OK);
      got.push(r.result);
    }
    expect(got.length).toBe(free);
    expect(new Set(got).size).toBe(got.length);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_PAGES, 3, 0);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_CONTIG, 1, 0, 0);
    for (const addr of got) expectStatus(g, Status.OK, Cmd.FREE_PAGES, addr, 0);
    expect(a.freePageCount).toBe(free);
    a.checkInvariants();
  });

  it("FREE_PAGES statuses: EINVAL > EFAULT > frame state (EDOUBLEFREE, ENOTHEAD, EBADORDER)", () => {
    const g = bootedGuest();
    const block = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 2, 0);
    const contig = expectStatus(g, Status.OK, Cmd.ALLOC_CONTIG, 3, 0, 0);
    const free = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 0, 0);
    expectStatus(g, Status.OK, Cmd.FREE_PAGES, free, 0);

    expectStatus(g, Status.EINVAL, Cmd.FREE_PAGES, block, 11); // order above max
    expectStatus(g, Status.EINVAL, Cmd.FREE_PAGES, block + 1, 11); // EINVAL > EFAULT
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, block + 1, 2); // unaligned
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, 32 * MiB, 0); // past RAM
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, 0xfffff000, 0);
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, 0, 0); // frame 0
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, 0xb8000, 0); // the VGA hole
    expectStatus(g, Status.EFAULT, Cmd.FREE_PAGES, IMAGE_START, 0); // the kernel image
    expectStatus(g, Status.EDOUBLEFREE, Cmd.FREE_PAGES, free, 0);
    expectStatus(g, Status.EDOUBLEFREE, Cmd.FREE_PAGES, free, 3); // state decides, not the order
    expectStatus(g, Status.ENOTHEAD, Cmd.FREE_PAGES, block + PAGE, 0);
    expectStatus(g, Status.ENOTHEAD, Cmd.FREE_PAGES, block + 3 * PAGE, 2);
    expectStatus(g, Status.EBADORDER, Cmd.FREE_PAGES, block, 1);
    expectStatus(g, Status.EBADORDER, Cmd.FREE_PAGES, block, 3);
    expectStatus(g, Status.EBADORDER, Cmd.FREE_PAGES, contig, 0); // an ALLOC_CONTIG range
    expectStatus(g, Status.ENOTHEAD, Cmd.FREE_PAGES, contig + PAGE, 0);
    expectStatus(g, Status.OK, Cmd.FREE_PAGES, block, 2);
    expectStatus(g, Status.OK, Cmd.FREE_CONTIG, contig, 3);
    g.bridge.allocator!.checkInvariants();
  });
});

describe("ALLOC_CONTIG and FREE_CONTIG", () => {
  it("exactly npages frames, aligned as asked, more than 2^maxorder allowed", () => {
    const g = bootedGuest({ maxOrder: 4 });
    const a = g.bridge.allocator!;
    const free = a.freePageCount;
    const addr = expectStatus(g, Status.OK, Cmd.ALLOC_CONTIG, 37, 8, 0);
    expect(addr % (8 * PAGE)).toBe(0);
    expect(a.freePageCount).toBe(free - 37);
    const one = expectStatus(g, Status.OK, Cmd.ALLOC_CONTIG, 1, 0, GFP_ZERO); // alignment 0 means 1
    expectStatus(g, Status.OK, Cmd.FREE_CONTIG, one, 1);
    expectStatus(g, Status.OK, Cmd.FREE_CONTIG, addr, 37);
    expect(a.freePageCount).toBe(free);
    a.checkInvariants();
  });

  it("EINVAL for npages 0, an alignment not a power of two, or bad gfp", () => {
    const g = bootedGuest();
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_CONTIG, 0, 1, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_CONTIG, 4, 3, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_CONTIG, 4, 0x80000001, 0);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_CONTIG, 4, 4, 0x8);
    expectStatus(g, Status.EINVAL, Cmd.ALLOC_CONTIG, 4, 4, GFP_DMA | GFP_HIGHMEM);
    expectStatus(g, Status.ENOMEM, Cmd.ALLOC_CONTIG, 0x10000, 1, 0); // 256 MiB in 32 MiB of RAM
  });

  it("FREE_CONTIG statuses", () => {
    const g = bootedGuest();
    const range = expectStatus(g, Status.OK, Cmd.ALLOC_CONTIG, 5, 1, 0);
    const block = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 0, 0);
    expectStatus(g, Status.EINVAL, Cmd.FREE_CONTIG, range, 0);
    expectStatus(g, Status.EINVAL, Cmd.FREE_CONTIG, range + 1, 0); // EINVAL > EFAULT
    expectStatus(g, Status.EFAULT, Cmd.FREE_CONTIG, range + 1, 5);
    expectStatus(g, Status.EFAULT, Cmd.FREE_CONTIG, 0xfffff000, 5);
    expectStatus(g, Status.EBADORDER, Cmd.FREE_CONTIG, range, 4);
    expectStatus(g, Status.EBADORDER, Cmd.FREE_CONTIG, block, 1); // an ALLOC_PAGES block
    expectStatus(g, Status.ENOTHEAD, Cmd.FREE_CONTIG, range + PAGE, 4);
    expectStatus(g, Status.OK, Cmd.FREE_CONTIG, range, 5);
    expectStatus(g, Status.EDOUBLEFREE, Cmd.FREE_CONTIG, range, 5);
    expectStatus(g, Status.OK, Cmd.FREE_PAGES, block, 0);
  });
});

describe("STAT", () => {
  it("answers every item; EINVAL for an unknown item or an order above max", () => {
    const g = bootedGuest({ ramBytes: 64 * MiB });
    const a = g.bridge.allocator!;
    expect(expectStatus(g, Status.OK, Cmd.STAT, 0)).toBe(a.freePageCount);
    expect(expectStatus(g, Status.OK, Cmd.STAT, 1)).toBe(a.managedPageCount);
    expect(expectStatus(g, Status.OK, Cmd.STAT, 2)).toBe(10);
    for (let order = 0; order <= 10; order++) expect(expectStatus(g, Status.OK, Cmd.STAT, 3, order)).toBe(a.freeBlockCount(order));
    expect(expectStatus(g, Status.OK, Cmd.STAT, 4)).toBe(2);
    expectStatus(g, Status.EINVAL, Cmd.STAT, 3, 11);
    expectStatus(g, Status.EINVAL, Cmd.STAT, 3, 0xffffffff);
    expectStatus(g, Status.EINVAL, Cmd.STAT, 5);
    expectStatus(g, Status.EINVAL, Cmd.STAT, 0xffffffff);
  });

  it("counts frames in the per-CPU cache as free", () => {
    const g = bootedGuest();
    const before = g.bridge.call(Cmd.STAT, 0).result;
    const addr = expectStatus(g, Status.OK, Cmd.ALLOC_PAGES, 0, 0);
    expect(g.bridge.call(Cmd.STAT, 0).result).toBe(before - 1);
    expectStatus(g, Status.OK, Cmd.FREE_PAGES, addr, 0);
    expect(g.bridge.call(Cmd.STAT, 0).result).toBe(before);
  });
});

describe("MARK", () => {
  it("records the label with its call number, before MEMMAP too", () => {
    const g = fakeGuest();
    const label = "phase one";
    g.ram.set(new TextEncoder().encode(label + "\0"), 0x20000);
    expectStatus(g, Status.OK, Cmd.HELLO, 1);
    expectStatus(g, Status.OK, Cmd.MARK, 0x20000);
    expect(g.bridge.marks).toEqual([{ seq: 1, label }]);
    expect(g.bridge.bootLog).toContain('mark: "phase one" at call 1');
  });

  it("63 bytes are fine; 64 without a NUL are EINVAL; a label leaving RAM is EFAULT", () => {
    const g = bootedGuest({ ramBytes: 16 * MiB });
    g.ram.fill(0x61, 0x20000, 0x20000 + 63);
    g.ram[0x20000 + 63] = 0;
    expectStatus(g, Status.OK, Cmd.MARK, 0x20000);
    expect(g.bridge.marks[0]!.label).toBe("a".repeat(63));
    g.ram[0x20000 + 63] = 0x61;
    g.ram[0x20000 + 64] = 0;
    expectStatus(g, Status.EINVAL, Cmd.MARK, 0x20000);
    expectStatus(g, Status.EFAULT, Cmd.MARK, 16 * MiB);
    expectStatus(g, Status.EFAULT, Cmd.MARK, 0xffffffff);
    g.ram.fill(0x62, 16 * MiB - 10);
    expectStatus(g, Status.EFAULT, Cmd.MARK, 16 * MiB - 10); // no NUL before RAM ends
    g.ram[16 * MiB - 1] = 0;
    expectStatus(g, Status.OK, Cmd.MARK, 16 * MiB - 10);
    expectStatus(g, Status.EFAULT, Cmd.MARK, 0xa0000); // the VGA window is not RAM
    expect(g.bridge.marks.length).toBe(2);
  });
});

describe("EXIT", () => {
  it("records the code, reports it once, and later calls are ignored", () => {
    const codes: number[] = [];
    const g = bootedGuest({ onExit: (code) => codes.push(code) });
    expect(g.bridge.call(Cmd.EXIT, 0xfffffffe)).toEqual({ result: 0, status: Status.OK });
    expect(codes).toEqual([0xfffffffe]);
    expect(g.bridge.exitCode).toBe(0xfffffffe);
    expect(g.bridge.state).toBe("exited");
    const calls = g.bridge.counters.totalCalls();
    expect(g.bridge.call(Cmd.ALLOC_PAGES, 0, 0)).toEqual({ result: 0, status: Status.ESTATE });
    expect(g.bridge.call(Cmd.EXIT, 3).status).toBe(Status.ESTATE);
    expect(codes).toEqual([0xfffffffe]);
    expect(g.bridge.counters.totalCalls()).toBe(calls);
  });

  it("works before MEMMAP", () => {
    const g = fakeGuest();
    expect(g.bridge.call(Cmd.EXIT, 7).status).toBe(Status.OK);
    expect(g.bridge.exitCode).toBe(7);
  });
});

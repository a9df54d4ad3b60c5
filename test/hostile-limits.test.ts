// docs/protocol.md "Limits the guest controls", row by row through the port: every value beyond a
// limit gets the documented status, EAX 0, an allocator (and RESERVE list) exactly as before, and a
// count in the run report (statuses, and the command or `unknown`). Each case names its row, and the
// row must still be in the document.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Cmd, LIMITS, Status } from "../src/protocol/abi.js";
import { BridgeCounters } from "../src/machine/index.js";
import { IMAGE_END, IMAGE_START, INFO_ADDR, MiB, allocatorState, bootedGuest, fakeGuest, statusName, type FakeGuest } from "./bridge-fixtures.js";

const doc = readFileSync(new URL("../docs/protocol.md", import.meta.url), "utf8");
const table = doc.slice(doc.indexOf("## Limits the guest controls"), doc.indexOf("## What the host does around the ABI"));
const PAGE = 4096;
const RAM = 16 * MiB;

/** One call beyond a limit: status, EAX 0 (HELLO: 1), nothing changed (ENOMEM: no count), counted once. */
function beyond(g: FakeGuest, row: string, status: number, cmd: number, a0 = 0, a1 = 0, a2 = 0): void {
  expect(table, `docs/protocol.md has the row "${row}"`).toContain(`| ${row} |`);
  const what = `${row}: cmd 0x${cmd.toString(16)}(0x${a0.toString(16)}, 0x${a1.toString(16)}, 0x${a2.toString(16)})`;
  const before = allocatorState(g.bridge);
  const counted = g.bridge.counters.snapshot();
  const slot = BridgeCounters.slotOf(cmd);
  const calls = g.bridge.counters.calls[slot]!;
  const r = g.bridge.call(cmd, a0, a1, a2);
  expect(statusName(r.status), what).toBe(statusName(status));
  expect(r.result, what).toBe(cmd === Cmd.HELLO ? 1 : 0);
  // An ENOMEM may drain the per-CPU cache (frames move between lists, no count changes).
  if (status === Status.ENOMEM) expect(g.bridge.allocator!.freePageCount, what).toBe((before as { free: number }).free);
  else expect(allocatorState(g.bridge), `${what} changed something`).toEqual(before);
  const after = g.bridge.counters.snapshot();
  expect(after.statuses[statusName(status) as keyof typeof after.statuses], `${what} counted`).toBe(counted.statuses[statusName(status) as keyof typeof counted.statuses] + 1);
  expect(g.bridge.counters.calls[slot], `${what} counted under its command`).toBe(calls + 1);
}

describe("every limit the guest controls (docs/protocol.md)", () => {
  it("before MEMMAP: the boot structures and RESERVE", () => {
    const g = fakeGuest({ ramBytes: RAM });
    beyond(g, "RESERVE range", Status.EINVAL, Cmd.RESERVE, 0x200000, 0);
    beyond(g, "RESERVE range", Status.EINVAL, Cmd.RESERVE, 0xfffff000, 0x1001);
    beyond(g, "RESERVE range", Status.EINVAL, Cmd.RESERVE, 0xffffffff, 0xffffffff);
    for (let i = 0; i < LIMITS.RESERVE_MAX_RANGES; i++) expect(g.bridge.call(Cmd.RESERVE, 0x400000 + i * PAGE, PAGE).status).toBe(Status.OK);
    beyond(g, "RESERVE ranges", Status.EINVAL, Cmd.RESERVE, 0x500000, PAGE);
    beyond(g, "kernel image range", Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_END, IMAGE_START);
    beyond(g, "multiboot info", Status.EFAULT, Cmd.MEMMAP, RAM - 100, IMAGE_START, IMAGE_END);
    beyond(g, "multiboot info", Status.EFAULT, Cmd.MEMMAP, 0xfffffff0, IMAGE_START, IMAGE_END);
    beyond(g, "multiboot info", Status.EFAULT, Cmd.MEMMAP, 0x9ffc0, IMAGE_START, IMAGE_END);
    for (const cmd of [Cmd.ALLOC_PAGES, Cmd.FREE_PAGES, Cmd.ALLOC_CONTIG, Cmd.FREE_CONTIG, Cmd.STAT, Cmd.BATCH]) beyond(g, "command (EAX)", Status.ESTATE, cmd, 0, 0, 0);
    // The map pointer near 4 GiB: its length would wrap a 32-bit sum back into RAM.
    g.dv.setUint32(INFO_ADDR + 48, 0xfffffff0, true);
    g.dv.setUint32(INFO_ADDR + 44, 0x20, true);
    beyond(g, "memory map, info, cmdline pointers", Status.EFAULT, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
  });

  it("before MEMMAP: the memory map and the cmdline", () => {
    const entries = Array.from({ length: LIMITS.MMAP_MAX_ENTRIES + 1 }, (_, i) => ({ base: i * PAGE, length: PAGE, type: 1 }));
    beyond(fakeGuest({ ramBytes: RAM, entries }), "memory map entries", Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    const small = [{ base: 0, length: RAM, type: 1, size: 19 }];
    beyond(fakeGuest({ ramBytes: RAM, entries: small }), "memory map entry `size`", Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    const g = fakeGuest({ ramBytes: RAM, cmdline: "x".repeat(LIMITS.CMDLINE_MAX + 10) });
    beyond(g, "cmdline", Status.EINVAL, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    // Map entries far above RAM are not an error: they are not RAM.
    const far = fakeGuest({ ramBytes: RAM, entries: [{ base: 0, length: 0xa0000, type: 1 }, { base: 2 ** 40, length: 2 ** 40, type: 1 }, { base: 0xc0000, length: 2 ** 63, type: 1 }] });
    expect(table).toContain("| memory map entry base/length |");
    expect(far.memmap().status).toBe(Status.OK);
    expect(far.bridge.allocator!.managedPageCount).toBeLessThan(RAM / PAGE);
  });

  it("after MEMMAP: commands, registers, orders, gfp, addresses, counts, pointers", () => {
    const g = bootedGuest({ ramBytes: RAM, maxOrder: 10 });
    const block = g.bridge.call(Cmd.ALLOC_PAGES, 2, 0).result;
    const range = g.bridge.call(Cmd.ALLOC_CONTIG, 3, 1, 0).result;
    const page = g.bridge.call(Cmd.ALLOC_PAGES, 0, 0).result;
    const freed = g.bridge.call(Cmd.ALLOC_PAGES, 0, 0).result;
    expect(g.bridge.call(Cmd.FREE_PAGES, freed, 0).status).toBe(Status.OK);

    for (const cmd of [0x03, 0x14, 0x22, 0x3e, 0x40, 0x80000010, 0xffffffff]) beyond(g, "command (EAX)", Status.ENOSYS, cmd, block);
    expect(g.bridge.counters.snapshot().unknownCalls).toBe(7);
    beyond(g, "HELLO version", Status.EVERSION, Cmd.HELLO, 2);
    beyond(g, "HELLO version", Status.EVERSION, Cmd.HELLO, 0xffffffff);
    beyond(g, "RESERVE, MEMMAP after MEMMAP", Status.ESTATE, Cmd.RESERVE, 0x200000, PAGE);
    beyond(g, "RESERVE, MEMMAP after MEMMAP", Status.ESTATE, Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END);
    for (const order of [11, 31, 0x80000000, 0xffffffff]) beyond(g, "order (ALLOC_PAGES, FREE_PAGES, BATCH records)", Status.EINVAL, Cmd.ALLOC_PAGES, order, 0);
    beyond(g, "order (ALLOC_PAGES, FREE_PAGES, BATCH records)", Status.EINVAL, Cmd.FREE_PAGES, block + 1, 11);
    for (const gfp of [3, 0x103, 4, 0x200, 0x80000000, 0xffffffff]) beyond(g, "gfp", Status.EINVAL, Cmd.ALLOC_PAGES, 0, gfp);
    beyond(g, "gfp", Status.EINVAL, Cmd.ALLOC_CONTIG, 1, 1, 3);
    const freedAddress = "freed address";
    for (const addr of [block + 1, block + 0x800, 0, 0xa0000, IMAGE_START, RAM, 0xfffff000]) beyond(g, freedAddress, Status.EFAULT, Cmd.FREE_PAGES, addr, 0);
    beyond(g, freedAddress, Status.EDOUBLEFREE, Cmd.FREE_PAGES, freed, 0);
    beyond(g, freedAddress, Status.ENOTHEAD, Cmd.FREE_PAGES, block + PAGE, 0);
    beyond(g, freedAddress, Status.EBADORDER, Cmd.FREE_PAGES, block, 1);
    beyond(g, freedAddress, Status.EBADORDER, Cmd.FREE_PAGES, range, 0);
    beyond(g, freedAddress, Status.EBADORDER, Cmd.FREE_CONTIG, range, 2);
    beyond(g, freedAddress, Status.EBADORDER, Cmd.FREE_CONTIG, block, 4);
    beyond(g, freedAddress, Status.ENOTHEAD, Cmd.FREE_CONTIG, range + PAGE, 2);
    const npages = "ALLOC_CONTIG / FREE_CONTIG npages";
    beyond(g, npages, Status.EINVAL, Cmd.ALLOC_CONTIG, 0, 1, 0);
    beyond(g, npages, Status.EINVAL, Cmd.FREE_CONTIG, range, 0);
    // The ABI's EINVAL is for npages 0: any other u32 is a request, which no zone can meet or which
    // names another length than the range's, whatever the address's own problems come first.
    for (const n of [2 ** 20, 2 ** 20 + 1, 0x80000000, 0xffffffff]) {
      beyond(g, npages, Status.ENOMEM, Cmd.ALLOC_CONTIG, n, 1, 0);
      beyond(g, npages, Status.EBADORDER, Cmd.FREE_CONTIG, range, n);
      beyond(g, npages, Status.ENOTHEAD, Cmd.FREE_CONTIG, range + PAGE, n);
      beyond(g, npages, Status.EFAULT, Cmd.FREE_CONTIG, 0x123, n);
    }
    beyond(g, npages, Status.EINVAL, Cmd.ALLOC_CONTIG, 0xffffffff, 3, 0);
    const align = "ALLOC_CONTIG alignment";
    for (const a of [3, 6, 0x80000001, 0xffffffff]) beyond(g, align, Status.EINVAL, Cmd.ALLOC_CONTIG, 1, a, 0);
    beyond(g, align, Status.ENOMEM, Cmd.ALLOC_CONTIG, 1, 2 ** 31, 0);
    for (const [item, arg] of [[5, 0], [0xffffffff, 0], [3, 11], [3, 0xffffffff]] as const) beyond(g, "STAT item", Status.EINVAL, Cmd.STAT, item, arg);

    // MARK: unterminated in RAM, pointers past RAM, near 4 GiB, into the VGA window.
    g.ram.fill(0x41, page, page + 64);
    beyond(g, "MARK label", Status.EINVAL, Cmd.MARK, page);
    g.ram.fill(0x41, RAM - 10, RAM);
    beyond(g, "MARK label", Status.EFAULT, Cmd.MARK, RAM - 10);
    for (const addr of [RAM, 0xffffffff, 0xfffffff0, 0xa0000, 0xbfff0]) beyond(g, "MARK pointer", Status.EFAULT, Cmd.MARK, addr);
    expect(g.bridge.marks).toEqual([]);

    // BATCH: counts, then arrays; the records of a refused BATCH never run.
    g.ram.fill(0, page, page + PAGE);
    g.dv.setUint16(page, Cmd.ALLOC_PAGES, true);
    for (const count of [0, 4097, 0xffffffff]) beyond(g, "BATCH count", Status.EINVAL, Cmd.BATCH, page, count);
    for (const [addr, count] of [[RAM - 8, 1], [0xfffffff0, 1], [0xffffff00, 32], [0xa0000 - 8, 1], [RAM - 16 * 4095, 4096]] as const)
      beyond(g, "BATCH array", Status.EFAULT, Cmd.BATCH, addr, count);
    expect(g.dv.getUint16(page + 2, true)).toBe(0);

    // BATCH records: refused one by one, the good one still runs, each counted.
    const cmds = [Cmd.HELLO, Cmd.EXIT, Cmd.BATCH, Cmd.ALLOC_CONTIG, 0xffff, Cmd.STAT];
    cmds.forEach((cmd, i) => {
      g.dv.setUint16(page + 16 * i, cmd, true);
      g.dv.setUint32(page + 16 * i + 4, 1, true);
    });
    expect(table).toContain("| BATCH record command |");
    const einval = g.bridge.counters.statuses[Status.EINVAL]!;
    const r = g.bridge.call(Cmd.BATCH, page, cmds.length);
    expect(r).toEqual({ result: 1, status: Status.OK });
    cmds.forEach((_, i) => expect(g.dv.getUint16(page + 16 * i + 2, true)).toBe(i === cmds.length - 1 ? Status.OK : Status.EINVAL));
    expect(g.bridge.counters.statuses[Status.EINVAL]).toBe(einval + 5);
    expect(g.bridge.counters.snapshot().unknownRecords).toBe(1);
    expect(g.bridge.state).toBe("running");

    // Narrow port accesses: all ones or ignored, a protocol error each, never a status.
    const h = g.bridge.portHandlers;
    const statuses = g.bridge.counters.snapshot().statuses;
    expect(table).toContain("| port access width |");
    expect([h.read8(), h.read16()]).toEqual([0xff, 0xffff]);
    h.write8(1);
    h.write16(Cmd.EXIT);
    h.write32(Cmd.EXIT);
    expect(g.bridge.counters.protocolErrors).toBe(5);
    expect(g.bridge.counters.snapshot().statuses).toEqual(statuses);
    expect(g.bridge.state).toBe("running");

    // Registers other than EAX and EBX come back as they went in.
    expect(table).toContain("| registers other than EAX, EBX, ECX, ESI |");
    // EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI: a FREE_PAGES with a bad order and garbage elsewhere.
    g.reg32.set([Cmd.FREE_PAGES, 11, 0x1234, block + 1, 0x5678, 0x9abc, 0xdef0, 0x1357]);
    expect(g.bridge.portRead32()).toBe(0);
    expect(g.reg32[3]).toBe(Status.EINVAL);
    expect(Array.from(g.reg32.subarray(1, 3))).toEqual([11, 0x1234]);
    expect(Array.from(g.reg32.subarray(4, 8))).toEqual([0x5678, 0x9abc, 0xdef0, 0x1357]);

    // EXIT: any code is reported; calls after it answer ESTATE and are not counted.
    expect(table).toContain("| EXIT code |");
    const total = g.bridge.counters.totalCalls();
    expect(g.bridge.call(Cmd.EXIT, 0xffffffff).status).toBe(Status.OK);
    expect(g.bridge.exitCode).toBe(0xffffffff);
    expect(g.bridge.call(Cmd.ALLOC_PAGES, 0, 0)).toEqual({ result: 0, status: Status.ESTATE });
    expect(g.bridge.counters.totalCalls()).toBe(total + 1);
  });
});

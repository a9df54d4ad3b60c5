// Poison checking on the allocator alone: freed blocks get the pattern (or zeros with init_on_free),
// a write after free is reported at the next allocation of that memory with the frame, the first
// differing offset and bytes, and the last owner's free and allocation sites; the checker's state
// survives getState/setState.
import { describe, expect, it } from "vitest";
import { GFP, PAGE_SIZE } from "../src/mem/index.js";
import { PAGE_POISON, PoisonChecker, type CallSource, type PoisonOptions } from "../src/debug/poison.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

/** A call source the test advances by hand: call n at EIP 0x100000 + n. */
function calls(): CallSource & { n: number } {
  return {
    n: 0,
    seq() {
      return this.n;
    },
    eip() {
      return 0x100000 + this.n;
    },
  };
}

function setup(options: PoisonOptions = {}, pcp = false) {
  const memory = new Uint8Array(16 * MiB);
  const a = makeBuddy(16 * MiB, { memory, ...(pcp ? { pcp: { high: 64, batch: 8 } } : {}) });
  const source = calls();
  const checker = new PoisonChecker(a, source, options);
  a.listener = checker;
  return { memory, a, source, checker };
}

describe("poison", () => {
  it("fills a freed block with the pattern and reports a write after free at the next allocation", () => {
    const { memory, a, source, checker } = setup({ poison: true });
    source.n = 5;
    const addr = a.allocPages(1);
    memory.fill(0x11, addr, addr + 2 * PAGE_SIZE);
    source.n = 6;
    a.freePages(addr, 1);
    expect(memory.subarray(addr, addr + 2 * PAGE_SIZE).every((b) => b === PAGE_POISON)).toBe(true);
    // The guest writes 4 bytes into the second frame of the freed block.
    memory.set([0xde, 0xad, 0xbe, 0xef], addr + PAGE_SIZE + 0x40);
    source.n = 9;
    expect(a.allocPages(1)).toBe(addr);
    expect(checker.violationCount).toBe(1);
    const v = checker.violations[0]!;
    expect(v.pfn).toBe(addr / PAGE_SIZE + 1);
    expect(v.offset).toBe(0x40);
    expect(v.found.slice(0, 5)).toEqual([0xde, 0xad, 0xbe, 0xef, PAGE_POISON]);
    expect(v.expected.every((b) => b === PAGE_POISON)).toBe(true);
    expect(v.differingBytes).toBe(4);
    expect(v.lastFree).toEqual({ seq: 6, eip: 0x100006 });
    expect(v.lastAlloc).toEqual({ seq: 5, eip: 0x100005 });
    expect(v.detectedAt.seq).toBe(9);
    expect(v.message).toContain(`frame pfn 0x${v.pfn.toString(16)}`);
    expect(v.message).toContain("freed it at call 6, EIP 0x100006");
    expect(v.message).toContain("found    de ad be ef aa");
  });

  it("reports nothing when freed memory was left alone, on every path (pcp, contig, exact)", () => {
    const { a, checker } = setup({ poison: true }, true);
    const blocks = Array.from({ length: 40 }, (_, i) => [a.allocPages(i % 4), i % 4] as const);
    for (const [addr, order] of blocks) a.freePages(addr, order);
    const range = a.allocContig(13);
    a.freeContig(range, 13);
    const exact = a.allocPagesExact(5);
    a.freePagesExact(exact, 5);
    for (let i = 0; i < 200; i++) a.freePages(a.allocPages(i % 3), i % 3);
    a.drain();
    for (let i = 0; i < 20; i++) a.allocContig(50);
    expect(checker.violationCount).toBe(0);
  });

  it("verifies before GFP_ZERO clears the block: the write is reported and the caller still gets zeros", () => {
    const { memory, a, checker } = setup({ poison: true }, true);
    const addr = a.allocPages(0);
    a.freePages(addr, 0);
    memory[addr + 7] = 1;
    const again = a.allocPages(0, GFP.ZERO);
    expect(again).toBe(addr);
    expect(checker.violations[0]?.offset).toBe(7);
    expect(memory.subarray(addr, addr + PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it("finds writes into freed ALLOC_CONTIG ranges", () => {
    const { memory, a, checker } = setup({ poison: true });
    const range = a.allocContig(7);
    a.freeContig(range, 7);
    memory[range + 6 * PAGE_SIZE + 0xffc] = 0;
    a.allocContig(7);
    expect(checker.violations[0]?.pfn).toBe(range / PAGE_SIZE + 6);
    expect(checker.violations[0]?.offset).toBe(0xffc);
  });

  it("init_on_free zeroes freed blocks (and poison then verifies the zeros); init_on_alloc zeroes handed-out blocks", () => {
    const free = setup({ poison: true, initOnFree: true });
    const addr = free.a.allocPages(0);
    free.memory.fill(0x33, addr, addr + PAGE_SIZE);
    free.a.freePages(addr, 0);
    expect(free.memory.subarray(addr, addr + PAGE_SIZE).every((b) => b === 0)).toBe(true);
    free.memory[addr + 100] = 9;
    free.a.allocPages(0);
    expect(free.checker.violations[0]?.found[0]).toBe(9);
    expect(free.checker.violations[0]?.expected[0]).toBe(0);

    const alloc = setup({ poison: false, initOnAlloc: true });
    alloc.memory.fill(0x77);
    const b = alloc.a.allocPages(2);
    expect(alloc.memory.subarray(b, b + 4 * PAGE_SIZE).every((x) => x === 0)).toBe(true);
    expect(alloc.memory[b + 4 * PAGE_SIZE]).toBe(0x77);
  });

  it("does not arm memory that was free at boot", () => {
    const { memory, a, checker } = setup({ poison: true });
    memory.fill(0x42);
    a.allocPages(3);
    expect(checker.violationCount).toBe(0);
  });

  it("keeps its records across getState/setState", () => {
    const one = setup({ poison: true });
    const addr = one.a.allocPages(0);
    one.source.n = 3;
    one.a.freePages(addr, 0);
    one.memory[addr] = 0;
    const saved = one.checker.getState();
    const allocator = one.a.getState();

    const two = setup({ poison: true });
    two.memory.set(one.memory);
    two.a.setState(allocator);
    two.checker.setState(saved);
    two.a.allocPages(0);
    expect(two.checker.violations[0]?.lastFree?.seq).toBe(3);
  });

  it("calls onViolation, which the machine uses to stop the run", () => {
    const { memory, a, checker } = setup({ poison: true, action: "stop" });
    const seen: number[] = [];
    checker.onViolation = (v) => seen.push(v.pfn);
    const addr = a.allocPages(0);
    a.freePages(addr, 0);
    memory[addr] = 1;
    a.allocPages(0);
    expect(seen).toEqual([addr / PAGE_SIZE]);
  });
});

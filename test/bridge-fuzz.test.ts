// A seeded random walk over the port: valid and malformed calls mixed, checked after every step
// against the ABI's rules (status range, EAX 0 on failure, rejected calls change nothing) and a
// model of what the guest holds; allocator invariants at the end. The seed is in the test name.

import { describe, expect, it } from "vitest";
import { BATCH_RECORD, Cmd, Status } from "../src/protocol/abi.js";
import { MiB, allocatorState, fakeGuest } from "./bridge-fixtures.js";
import { Xorshift32 } from "../src/bench/workloads.js";

const PAGE = 4096;

/** The project's xorshift32 (src/bench/workloads.ts) as a function. */
function xorshift(seed: number): () => number {
  const rng = new Xorshift32(seed);
  return () => rng.next();
}

interface Held {
  addr: number;
  size: number;
  contig: boolean;
}

describe.each([1, 2, 3, 0xbadd1e])("random port traffic, seed %i", (seed) => {
  it("follows the ABI at every step", () => {
    const rand = xorshift(seed);
    const pick = <T>(xs: readonly T[]): T => xs[rand() % xs.length]!;
    const ARRAY = 0x40000;
    const g = fakeGuest({ ramBytes: 8 * MiB, maxOrder: 6 });
    // The record array must not lie in memory the allocator may hand out (GFP_ZERO would clear it).
    expect(g.bridge.call(Cmd.RESERVE, ARRAY, PAGE).status).toBe(Status.OK);
    expect(g.bridge.call(Cmd.RESERVE, 8 * MiB - PAGE, PAGE).status).toBe(Status.OK);
    expect(g.memmap().status).toBe(Status.OK);
    const a = g.bridge.allocator!;
    const total = a.freePageCount;
    const held: Held[] = [];
    const gfps = [0, 1, 2, 0x100, 0x101, 0x102, 3, 4, 0x200, 0xffffffff];

    for (let step = 0; step < 3000; step++) {
      const h = held.length > 0 ? held[rand() % held.length]! : null;
      let cmd: number;
      let args: [number, number, number];
      switch (rand() % 12) {
        case 0:
        case 1:
          cmd = Cmd.ALLOC_PAGES;
          args = [rand() % 9, pick(gfps), 0];
          break;
        case 2:
          cmd = Cmd.ALLOC_CONTIG;
          args = [rand() % 80, pick([0, 1, 2, 3, 4, 16, 64]), pick(gfps)];
          break;
        case 3:
        case 4:
          if (h !== null && !h.contig && rand() % 4 !== 0) {
            cmd = Cmd.FREE_PAGES;
            args = [h.addr, Math.log2(h.size), 0];
          } else {
            cmd = Cmd.FREE_PAGES;
            args = [h !== null ? h.addr + pick([0, 1, PAGE, 2 * PAGE]) : rand(), rand() % 9, 0];
          }
          break;
        case 5:
          cmd = Cmd.FREE_CONTIG;
          args = h !== null && h.contig && rand() % 3 !== 0 ? [h.addr, h.size, 0] : [h?.addr ?? rand(), rand() % 80, 0];
          break;
        case 6:
          cmd = Cmd.STAT;
          args = [rand() % 7, rand() % 9, 0];
          break;
        case 7: {
          const n = rand() % 6;
          for (let i = 0; i < n; i++) {
            const p = ARRAY + i * BATCH_RECORD.SIZE;
            g.dv.setUint16(p, pick([Cmd.ALLOC_PAGES, Cmd.STAT, Cmd.HELLO, 0xffff]), true);
            g.dv.setUint32(p + 4, rand() % 4, true);
            g.dv.setUint32(p + 8, pick([0, 0x100, 0x4]), true);
          }
          cmd = Cmd.BATCH;
          args = [pick([ARRAY, 8 * MiB - 16, 0xfffffff0]), n, 0];
          break;
        }
        case 8:
          cmd = pick([Cmd.MEMMAP, Cmd.RESERVE]);
          args = [rand(), rand(), rand()];
          break;
        case 9:
          cmd = Cmd.MARK;
          args = [pick([0x50000, 8 * MiB - 1, rand()]), 0, 0];
          break;
        case 10:
          cmd = pick([0x3, 0x14, 0x3e, rand()]);
          args = [rand(), rand(), rand()];
          break;
        default:
          cmd = Cmd.HELLO;
          args = [rand() % 3, 0, 0];
      }
      const deep = step % 64 === 0;
      const before = deep ? allocatorState(g.bridge) : null;
      const freeBefore = a.freePageCount;
      const info = a.buddyinfo();
      const r = g.bridge.call(cmd, ...args);
      const where = `step ${step}: cmd 0x${cmd.toString(16)}(${args.map((x) => "0x" + (x >>> 0).toString(16)).join(", ")}) -> status ${r.status}`;
      expect(r.status, where).toBeGreaterThanOrEqual(0);
      expect(r.status, where).toBeLessThanOrEqual(Status.EVERSION);
      if (r.status !== Status.OK && cmd !== Cmd.HELLO) expect(r.result, where).toBe(0);
      if (r.status !== Status.OK && r.status !== Status.ENOMEM) {
        expect(a.freePageCount, where).toBe(freeBefore);
        expect(a.buddyinfo(), where).toBe(info);
        if (before !== null) expect(allocatorState(g.bridge), where).toEqual(before);
      }
      if (r.status === Status.OK) {
        if (cmd === Cmd.ALLOC_PAGES) held.push({ addr: r.result, size: 1 << args[0], contig: false });
        if (cmd === Cmd.ALLOC_CONTIG) held.push({ addr: r.result, size: args[0], contig: true });
        if (cmd === Cmd.FREE_PAGES || cmd === Cmd.FREE_CONTIG) held.splice(held.findIndex((x) => x.addr === args[0]), 1);
        if (cmd === Cmd.BATCH) {
          for (let i = 0; i < args[1]; i++) {
            const p = args[0] + i * BATCH_RECORD.SIZE;
            if (g.dv.getUint16(p, true) === Cmd.ALLOC_PAGES && g.dv.getUint16(p + 2, true) === Status.OK) {
              held.push({ addr: g.dv.getUint32(p + 12, true), size: 1 << g.dv.getUint32(p + 4, true), contig: false });
            }
          }
        }
      }
      const heldFrames = held.reduce((n, x) => n + x.size, 0);
      expect(a.freePageCount, where).toBe(total - heldFrames);
    }
    a.checkInvariants();
    for (const x of held) expect(g.bridge.call(x.contig ? Cmd.FREE_CONTIG : Cmd.FREE_PAGES, x.addr, x.contig ? x.size : Math.log2(x.size)).status).toBe(Status.OK);
    expect(a.freePageCount).toBe(total);
    a.checkInvariants();
  });
});

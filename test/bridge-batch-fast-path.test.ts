// BATCH has two record loops: a fast one over 32-bit views of guest RAM for 4-byte aligned arrays
// with no per-record observer, and the general one (DataView, every record told to the observer).
// Differential test: the same seeded BATCH calls, mixing good and bad records of every kind, against
// two identical guests, one on each path, must give the same answers, records, RAM, counters and
// allocator, call after call. A failure prints the seed and the call.

import { describe, expect, it } from "vitest";
import { BATCH_RECORD, Cmd } from "../src/protocol/abi.js";
import type { BridgeObserver } from "../src/machine/index.js";
import { MiB, allocatorState, bootedGuest, type FakeGuest } from "./bridge-fixtures.js";

const ARRAY = 0x30000;
const CALLS = 300;

/** Forces the general loop (an observer with onRecord) and records what it was told. */
class RecordLog implements BridgeObserver {
  readonly seen: number[] = [];
  onCall(): void {}
  onRecord(_seq: number, _i: number, cmd: number, arg0: number, arg1: number, result: number, status: number): void {
    this.seen.push(cmd, arg0, arg1, result, status);
  }
}

class Xorshift32 {
  constructor(private state: number) {}
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/** One random record: mostly valid allocations and frees of live blocks, plus every kind of bad one. */
function randomRecord(rng: Xorshift32, live: number[][]): [number, number, number] {
  const pick = rng.below(100);
  if (pick < 40) return [Cmd.ALLOC_PAGES, rng.below(4), [0, 0, 0x2, 0x100, 0x1][rng.below(5)]!];
  if (pick < 70 && live.length > 0) {
    const [addr, order] = live.splice(rng.below(live.length), 1)[0]!;
    return [Cmd.FREE_PAGES, addr!, order!];
  }
  if (pick < 75) return [Cmd.ALLOC_PAGES, 11 + rng.below(20), 0]; // EINVAL: order
  if (pick < 78) return [Cmd.ALLOC_PAGES, 0, 0x4]; // EINVAL: gfp
  if (pick < 83) return [Cmd.FREE_PAGES, 0x200000 + 0x1000 * rng.below(64), rng.below(3)]; // double/bad frees
  if (pick < 86) return [Cmd.FREE_PAGES, 0x200800, 0]; // EFAULT: unaligned
  if (pick < 92) return [Cmd.STAT, rng.below(6), rng.below(12)];
  return [[Cmd.HELLO, Cmd.MEMMAP, Cmd.BATCH, 0x77, 0xffff][rng.below(5)]!, rng.next(), rng.next()]; // EINVAL in a record
}

function writeRecord(g: FakeGuest, at: number, [cmd, arg0, arg1]: [number, number, number]): void {
  g.dv.setUint16(at + BATCH_RECORD.CMD, cmd, true);
  g.dv.setUint16(at + BATCH_RECORD.STATUS, 0xeeee, true);
  g.dv.setUint32(at + BATCH_RECORD.ARG0, arg0 >>> 0, true);
  g.dv.setUint32(at + BATCH_RECORD.ARG1, arg1 >>> 0, true);
  g.dv.setUint32(at + BATCH_RECORD.RESULT, 0xdeadbeef, true);
}

describe("BATCH's fast record loop", () => {
  it.each([1, 2, 3])("matches the general loop, record for record (seed %i)", (seed) => {
    const fast = bootedGuest({ ramBytes: 8 * MiB });
    const log = new RecordLog();
    const general = bootedGuest({ ramBytes: 8 * MiB, observer: log });
    const rng = new Xorshift32(seed * 0x9e3779b9);
    const live: number[][] = [];
    for (let call = 0; call < CALLS; call++) {
      const where = `seed ${seed}, call ${call}`;
      const count = 1 + rng.below(64);
      // Mostly 4-byte aligned arrays (the fast path); now and then an unaligned one (both general).
      const at = ARRAY + (rng.below(10) === 0 ? 2 : 0);
      const records = Array.from({ length: count }, () => randomRecord(rng, live));
      for (const g of [fast, general]) records.forEach((r, i) => writeRecord(g, at + i * BATCH_RECORD.SIZE, r));
      const a = fast.bridge.call(Cmd.BATCH, at, count);
      const b = general.bridge.call(Cmd.BATCH, at, count);
      expect(a, where).toEqual(b);
      const bytes = count * BATCH_RECORD.SIZE;
      expect(Buffer.from(fast.ram.subarray(at, at + bytes)).equals(Buffer.from(general.ram.subarray(at, at + bytes))), `${where}: records`).toBe(true);
      // The blocks the records allocated are live until a later record frees them.
      for (let i = 0; i < count; i++) {
        const p = at + i * BATCH_RECORD.SIZE;
        const [cmd, order] = records[i]!;
        if (cmd === Cmd.ALLOC_PAGES && fast.dv.getUint16(p + BATCH_RECORD.STATUS, true) === 0) live.push([fast.dv.getUint32(p + BATCH_RECORD.RESULT, true), order]);
      }
      if (call % 100 === 99 || call === CALLS - 1) {
        expect(allocatorState(fast.bridge), `${where}: allocator`).toEqual(allocatorState(general.bridge));
        expect(fast.bridge.counters.snapshot(), `${where}: counters`).toEqual(general.bridge.counters.snapshot());
        expect(Buffer.from(fast.ram).equals(Buffer.from(general.ram)), `${where}: RAM (GFP_ZERO)`).toBe(true);
      }
    }
    expect(log.seen.length / 5, "records the observer saw").toBe(fast.bridge.counters.snapshot().totalRecords);
    fast.bridge.allocator!.checkInvariants();
  });

  it("asks the allocator once per record, even when a fault predicate makes it fail", () => {
    // A predicate that fails every third allocation and a listener that counts: a record answered
    // by trying twice would consult the predicate twice (and could then succeed where it failed).
    const runs = [false, true].map((withObserver) => {
      const g = bootedGuest({ ramBytes: 8 * MiB, ...(withObserver ? { observer: new RecordLog() } : {}) });
      const a = g.bridge.allocator!;
      let asked = 0;
      const events: string[] = [];
      a.failPredicate = () => ++asked % 3 === 0;
      a.listener = {
        alloc: (pfn, order) => events.push(`alloc ${pfn} ${order}`),
        free: (pfn, order) => events.push(`free ${pfn} ${order}`),
        split: () => {},
        merge: () => {},
        fail: (order, _gfp, injected) => events.push(`fail ${order} ${injected}`),
        pcpDrain: () => {},
        allocContig: () => {},
        freeContig: () => {},
      };
      for (let i = 0; i < 12; i++) writeRecord(g, ARRAY + 16 * i, i % 4 === 3 ? [Cmd.FREE_PAGES, 0x5000, 0] : [Cmd.ALLOC_PAGES, i % 3, 0]);
      const r = g.bridge.call(Cmd.BATCH, ARRAY, 12);
      return { r, asked, events, records: Buffer.from(g.ram.subarray(ARRAY, ARRAY + 12 * 16)).toString("hex"), statuses: g.bridge.counters.snapshot().statuses };
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.asked, "predicate calls: one per ALLOC_PAGES record").toBe(9);
    expect(runs[0]!.statuses.ENOMEM, "injected failures").toBe(3);
  });

  it("reads each record just before running it, so a GFP_ZERO record can clear the ones after it", () => {
    // The array sits in the first free order-1 block; record 0 takes that very block with GFP_ZERO
    // (LIFO lists hand it out first), which zeroes records 1..: they then read as command 0 (HELLO),
    // EINVAL inside BATCH. Both loops must agree.
    const results = [false, true].map((withObserver) => {
      const g = bootedGuest({ ramBytes: 16 * MiB, ...(withObserver ? { observer: new RecordLog() } : {}) });
      const block = g.bridge.call(Cmd.ALLOC_PAGES, 1, 0).result;
      g.bridge.call(Cmd.FREE_PAGES, block, 1);
      writeRecord(g, block, [Cmd.ALLOC_PAGES, 1, 0x100]);
      writeRecord(g, block + 16, [Cmd.ALLOC_PAGES, 0, 0]);
      writeRecord(g, block + 32, [Cmd.ALLOC_PAGES, 0, 0]);
      const r = g.bridge.call(Cmd.BATCH, block, 3);
      return { r, block, bytes: Buffer.from(g.ram.subarray(block, block + 48)).toString("hex") };
    });
    expect(results[0]).toEqual(results[1]);
    expect(results[0]!.r.result, "only record 0 ended OK").toBe(1);
  });
});

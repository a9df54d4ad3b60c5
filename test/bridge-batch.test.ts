// BATCH: records read from and written back to guest memory, run in order; a failing record does
// not stop the rest; a bad count or an array outside RAM runs no record at all.

import { describe, expect, it } from "vitest";
import { BATCH_RECORD, Cmd, LIMITS, Status } from "../src/protocol/abi.js";
import { MiB, bootedGuest, expectStatus, type FakeGuest } from "./bridge-fixtures.js";

const ARRAY = 0x30000;
const PAGE = 4096;

interface Rec {
  cmd: number;
  arg0?: number;
  arg1?: number;
}

function writeRecords(g: FakeGuest, at: number, recs: Rec[]): void {
  recs.forEach((r, i) => {
    const p = at + i * BATCH_RECORD.SIZE;
    g.dv.setUint16(p + BATCH_RECORD.CMD, r.cmd, true);
    g.dv.setUint16(p + BATCH_RECORD.STATUS, 0xeeee, true);
    g.dv.setUint32(p + BATCH_RECORD.ARG0, r.arg0 ?? 0, true);
    g.dv.setUint32(p + BATCH_RECORD.ARG1, r.arg1 ?? 0, true);
    g.dv.setUint32(p + BATCH_RECORD.RESULT, 0xdeadbeef, true);
  });
}

function readRecord(g: FakeGuest, at: number, i: number): { status: number; result: number } {
  const p = at + i * BATCH_RECORD.SIZE;
  return { status: g.dv.getUint16(p + BATCH_RECORD.STATUS, true), result: g.dv.getUint32(p + BATCH_RECORD.RESULT, true) };
}

describe("BATCH", () => {
  it("runs records in order, writes status and result, and returns the OK count", () => {
    const g = bootedGuest();
    const a = g.bridge.allocator!;
    const free = a.freePageCount;
    writeRecords(g, ARRAY, [
      { cmd: Cmd.ALLOC_PAGES, arg0: 0, arg1: 0 },
      { cmd: Cmd.ALLOC_PAGES, arg0: 3, arg1: 0x100 },
      { cmd: Cmd.STAT, arg0: 0 },
      { cmd: Cmd.ALLOC_PAGES, arg0: 99, arg1: 0 }, // EINVAL; the rest still run
      { cmd: Cmd.FREE_PAGES, arg0: 0x1234, arg1: 0 }, // EFAULT
      { cmd: Cmd.HELLO, arg0: 1 }, // not a record command
      { cmd: Cmd.MEMMAP }, // not a record command either
      { cmd: 0xffff },
      { cmd: Cmd.STAT, arg0: 3, arg1: 11 }, // EINVAL
    ]);
    expect(expectStatus(g, Status.OK, Cmd.BATCH, ARRAY, 9)).toBe(3);
    const r = Array.from({ length: 9 }, (_, i) => readRecord(g, ARRAY, i));
    expect(r[0]!.status).toBe(Status.OK);
    expect(r[0]!.result % PAGE).toBe(0);
    expect(r[1]!.status).toBe(Status.OK);
    expect(r[1]!.result % (8 * PAGE)).toBe(0);
    expect(r[2]).toEqual({ status: Status.OK, result: free - 9 }); // sees the two allocations before it
    expect(r.slice(3).map((x) => x.status)).toEqual([Status.EINVAL, Status.EFAULT, Status.EINVAL, Status.EINVAL, Status.EINVAL, Status.EINVAL]);
    expect(r.slice(3).every((x) => x.result === 0)).toBe(true);

    // Free them through a second batch, including a double free in the middle.
    writeRecords(g, ARRAY, [
      { cmd: Cmd.FREE_PAGES, arg0: r[0]!.result, arg1: 0 },
      { cmd: Cmd.FREE_PAGES, arg0: r[0]!.result, arg1: 0 },
      { cmd: Cmd.FREE_PAGES, arg0: r[1]!.result + PAGE, arg1: 0 },
      { cmd: Cmd.FREE_PAGES, arg0: r[1]!.result, arg1: 2 },
      { cmd: Cmd.FREE_PAGES, arg0: r[1]!.result, arg1: 3 },
    ]);
    expect(expectStatus(g, Status.OK, Cmd.BATCH, ARRAY, 5)).toBe(2);
    expect([0, 1, 2, 3, 4].map((i) => readRecord(g, ARRAY, i).status)).toEqual([
      Status.OK,
      Status.EDOUBLEFREE,
      Status.ENOTHEAD,
      Status.EBADORDER,
      Status.OK,
    ]);
    expect(a.freePageCount).toBe(free);
    a.checkInvariants();

    const c = g.bridge.counters.snapshot();
    expect(c.calls.BATCH).toBe(2);
    expect(c.records).toMatchObject({ ALLOC_PAGES: 3, FREE_PAGES: 6, STAT: 2, HELLO: 1, MEMMAP: 1 });
    expect(c.unknownRecords).toBe(1);
    expect(c.totalRecords).toBe(14);
    // Statuses count calls and records: MEMMAP + 2 BATCH calls OK, and 5 OK records.
    expect(c.statuses.OK).toBe(3 + 5);
    expect(c.statuses.EINVAL).toBe(5);
  });

  it("EINVAL for count 0 or above 4096, before checking the array (EINVAL > EFAULT)", () => {
    const g = bootedGuest();
    expectStatus(g, Status.EINVAL, Cmd.BATCH, ARRAY, 0);
    expectStatus(g, Status.EINVAL, Cmd.BATCH, ARRAY, LIMITS.BATCH_MAX_RECORDS + 1);
    expectStatus(g, Status.EINVAL, Cmd.BATCH, ARRAY, 0xffffffff);
    expectStatus(g, Status.EINVAL, Cmd.BATCH, 0xfffffff0, 0);
    expect(g.bridge.counters.snapshot().totalRecords).toBe(0);
  });

  it("EFAULT for an array not fully inside RAM, and then no record runs", () => {
    const g = bootedGuest({ ramBytes: 16 * MiB });
    const end = 16 * MiB;
    writeRecords(g, end - 2 * BATCH_RECORD.SIZE, [{ cmd: Cmd.ALLOC_PAGES }, { cmd: Cmd.ALLOC_PAGES }]);
    expectStatus(g, Status.EFAULT, Cmd.BATCH, end - 2 * BATCH_RECORD.SIZE, 3);
    expect(readRecord(g, end - 2 * BATCH_RECORD.SIZE, 0).status).toBe(0xeeee);
    expectStatus(g, Status.EFAULT, Cmd.BATCH, 0xfffffff0, 1);
    expectStatus(g, Status.EFAULT, Cmd.BATCH, 0xa0000, 1); // the VGA window
    expectStatus(g, Status.EFAULT, Cmd.BATCH, 0x9fff0, 2); // runs into it
    expect(expectStatus(g, Status.OK, Cmd.BATCH, end - 2 * BATCH_RECORD.SIZE, 2)).toBe(2);
  });

  it("takes the maximum of 4096 records", () => {
    const g = bootedGuest();
    const n = LIMITS.BATCH_MAX_RECORDS;
    writeRecords(g, ARRAY, Array.from({ length: n }, () => ({ cmd: Cmd.ALLOC_PAGES, arg0: 0, arg1: 0 })));
    expect(expectStatus(g, Status.OK, Cmd.BATCH, ARRAY, n)).toBe(n);
    const addrs = Array.from({ length: n }, (_, i) => readRecord(g, ARRAY, i).result);
    expect(new Set(addrs).size).toBe(n);
    writeRecords(g, ARRAY, addrs.map((addr) => ({ cmd: Cmd.FREE_PAGES, arg0: addr, arg1: 0 })));
    expect(expectStatus(g, Status.OK, Cmd.BATCH, ARRAY, n)).toBe(n);
    g.bridge.allocator!.checkInvariants();
  });

  it("reports ENOMEM per record, and the batch still answers OK", () => {
    const g = bootedGuest({ ramBytes: 4 * MiB });
    writeRecords(g, ARRAY, [
      { cmd: Cmd.ALLOC_PAGES, arg0: 10, arg1: 0 },
      { cmd: Cmd.ALLOC_PAGES, arg0: 0, arg1: 0 },
    ]);
    expect(expectStatus(g, Status.OK, Cmd.BATCH, ARRAY, 2)).toBe(1);
    expect(readRecord(g, ARRAY, 0)).toEqual({ status: Status.ENOMEM, result: 0 });
    expect(g.bridge.counters.snapshot().statuses.ENOMEM).toBe(1);
  });
});

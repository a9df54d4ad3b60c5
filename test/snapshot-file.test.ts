// Snapshot files (src/cli/snapshot.ts): a written file reads back exactly; a truncated, corrupted or
// mismatched one is refused with a SnapshotError naming the check that failed.
import { describe, expect, it } from "vitest";
import { SNAPSHOT_FORMAT, SnapshotError, checkSnapshotFits, decodeSnapshot, encodeSnapshot, type ObserveSnapshot, type SnapshotSettings } from "../src/cli/snapshot.js";
import { packValue, unpackValue } from "../src/cli/snapshot-pack.js";
import type { MachineCheckpoint } from "../src/debug/checkpoint.js";
import type { DebugState } from "../src/debug/session.js";

const kernel = new TextEncoder().encode("\x7fELF a kernel image for the test");
const settings: SnapshotSettings = { cmdline: "workload=random ops=10", memoryBytes: 16 << 20, maxOrder: 10, pcp: { high: 378, batch: 63 }, debug: { poison: true, fault: {} } };

function checkpoint(): MachineCheckpoint {
  const v86State = new Uint8Array(100_000);
  for (let i = 0; i < v86State.length; i++) v86State[i] = (i * 7) & 0xff;
  return {
    version: 1,
    memoryBytes: 16 << 20,
    calls: 1234,
    v86State,
    bridge: {
      phase: "running",
      calls: 1234,
      reservations: [{ base: 0x10000, length: 0x1000 }],
      marks: [{ seq: 17, label: "phase:random" }],
      bootLog: ["Zone ranges:"],
      counters: { calls: new Float64Array([1, 2, 3]), records: new Float64Array(3), statuses: new Float64Array([5, 6]), protocolErrors: 2 },
      map: { usable: [{ base: 0, end: 0xa0000 }], reserved: [{ base: 0, end: 0x1000, label: "frame 0" }] },
      allocator: null,
    },
    guestLog: "guest| hello\n",
    bootLog: ["a", "b"],
  };
}
const debug: DebugState = { poison: null, faults: { attempts: 3, candidates: 2, injected: 1, rng: 99, log: [{ seq: 5, order: 0, npages: 1, gfp: 0 }] }, tail: null };

function expectCheck(bytes: Uint8Array, check: SnapshotError["check"]): void {
  let error: unknown = null;
  try {
    decodeSnapshot(bytes);
  } catch (e) {
    error = e;
  }
  expect(error, `expected the ${check} check to fail`).toBeInstanceOf(SnapshotError);
  expect((error as SnapshotError).check).toBe(check);
  expect((error as SnapshotError).message).toContain(`${check} check failed`);
}

/** An observing session as a snapshot carries it: two stacks, one live block and one freed, counters, a report. */
function observe(): ObserveSnapshot {
  return {
    depot: { frames: new Uint32Array([0x100010, 0x100200, 0x100020]), depths: new Int32Array([2, 1]) },
    owner: {
      count: 2,
      ints: new Int32Array([0x40, 1, 0, 0, 0, -1, 0x80, 4, 2, 0x100, 1, 0]),
      nums: new Float64Array([7, 700, -1, -1, 9, 900, 12, 1200]),
      basePfn: 0,
      frameRow: new Int32Array(256).fill(-1),
      headRow: new Int32Array(256).fill(-1),
      liveFrames: 1,
      liveBlocks: 1,
      untrackedFrees: 0,
      peakFrames: 5,
      peakSeq: 9,
      peakIcount: 900,
      invalidFreeCount: 0,
      invalidFrees: [],
    },
    counters: { table: new Float64Array(160).fill(3), extras: [1, 2, 3, 4, 5, 6, 7, 8] },
    warn: { reports: ["buddy86: page allocation failure: order:3"], suppressed: 0, windowStart: 7, inWindow: 1, pendingSuppressed: 0 },
    icount: 123456789012,
  };
}

describe("snapshot files", () => {
  const file = encodeSnapshot(kernel, settings, checkpoint(), debug, observe());

  it("read back exactly what was written, typed arrays included", () => {
    const s = decodeSnapshot(file);
    expect(s.header.atCall).toBe(1234);
    expect(s.header.settings).toEqual(settings);
    expect(s.checkpoint).toEqual(checkpoint());
    expect(s.checkpoint.v86State).toBeInstanceOf(Uint8Array);
    expect(s.checkpoint.bridge.counters.calls).toBeInstanceOf(Float64Array);
    expect(s.debug).toEqual(debug);
    expect(s.observe).toEqual(observe());
    expect(s.observe.owner.nums).toBeInstanceOf(Float64Array);
    expect(() => checkSnapshotFits(s, kernel, 16 << 20)).not.toThrow();
  });

  it("compress the payload", () => {
    expect(file.length).toBeLessThan(checkpoint().v86State.length / 4);
  });

  it.each([0, 10, 47, 100, file.length - 33, file.length - 1])("refuse a file truncated to %i bytes", (n) => {
    expectCheck(file.subarray(0, n), "truncated");
  });

  it("refuse another file, another format version, trailing bytes", () => {
    const other = file.slice();
    other[0] = 0x58;
    expectCheck(other, "magic");
    const newer = file.slice();
    new DataView(newer.buffer).setUint32(8, SNAPSHOT_FORMAT + 1, true);
    expectCheck(newer, "format");
    // A file of format 1 (before the page-owner records) is refused by its version, not misread.
    const older = file.slice();
    new DataView(older.buffer).setUint32(8, 1, true);
    expectCheck(older, "format");
    const longer = new Uint8Array(file.length + 3);
    longer.set(file);
    expectCheck(longer, "length");
  });

  it("refuse a flipped byte in the payload or the checksum (checksum), or one that breaks the header", () => {
    for (const at of [file.length - 100, file.length - 40, file.length - 1]) {
      const bad = file.slice();
      bad[at]! ^= 0x01;
      expectCheck(bad, "checksum");
    }
    const headerLength = new DataView(file.buffer).getUint32(12, true);
    const bad = file.slice();
    bad[16] = 0x20; // the header's opening brace
    expectCheck(bad, "header");
    const digits = file.slice();
    const text = new TextDecoder().decode(digits.subarray(16, 16 + headerLength));
    const at = 16 + text.indexOf('"atCall":1234') + 10;
    digits[at] = "9".charCodeAt(0); // still valid JSON, but not what was summed
    expectCheck(digits, "checksum");
  });

  it("refuse another memory size or another kernel, naming the check", () => {
    const s = decodeSnapshot(file);
    expect(() => checkSnapshotFits(s, kernel, 32 << 20)).toThrow(/memory size check failed/);
    const other = kernel.slice();
    other[5]! ^= 1;
    expect(() => checkSnapshotFits(s, other, 16 << 20)).toThrow(/kernel check failed/);
  });

  it("pack and unpack nested typed arrays of every width", () => {
    const value = { a: [new Int8Array([-1, 2]), new Uint16Array([65535]), { b: new Float32Array([1.5]), c: new Int32Array(0) }], d: null, e: "x" };
    expect(unpackValue(packValue(value))).toEqual(value);
    expect(() => unpackValue(new Uint8Array([255, 255, 255, 255]))).toThrow();
  });
});

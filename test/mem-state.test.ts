// Snapshots: getState() copies every typed array and scalar; setState() puts an allocator of the same
// geometry back exactly, and refuses one of another geometry without changing anything.
import { describe, expect, it } from "vitest";
import { makeBuddy, MiB } from "./helpers/mem.js";

describe("getState / setState", () => {
  it("restores an allocator so that it makes the same choices afterwards", () => {
    const a = makeBuddy(64 * MiB, { pcp: { high: 40, batch: 8 } });
    for (let i = 0; i < 50; i++) a.allocPages(i % 4);
    const saved = a.getState();
    const next = [a.allocPages(0), a.allocPages(3), a.allocContig(17)];

    const b = makeBuddy(64 * MiB, { pcp: { high: 40, batch: 8 } });
    b.setState(saved);
    b.checkInvariants();
    expect([b.allocPages(0), b.allocPages(3), b.allocContig(17)]).toEqual(next);
    expect(b.buddyinfo()).toBe(a.buddyinfo());
    expect(b.freePageCount).toBe(a.freePageCount);
  });

  it("is a copy: later changes do not leak into a taken snapshot", () => {
    const a = makeBuddy(16 * MiB);
    const saved = a.getState();
    a.allocPages(5);
    const b = makeBuddy(16 * MiB);
    b.setState(saved);
    expect(b.freePageCount).toBe(b.managedPageCount);
  });

  it("refuses a snapshot of another geometry and changes nothing", () => {
    const small = makeBuddy(16 * MiB);
    const other = makeBuddy(32 * MiB);
    const before = other.buddyinfo();
    expect(() => other.setState(small.getState())).toThrow(/frameCount/);
    expect(() => other.setState({ ...other.getState(), maxOrder: 3 })).toThrow(/maxOrder/);
    expect(() => other.setState({ ...other.getState(), version: 99 })).toThrow(/version/);
    expect(other.buddyinfo()).toBe(before);
  });

  it("refuses a snapshot of the same span with another memory map: reserved frames stay reserved", () => {
    const open = makeBuddy(32 * MiB);
    const holed = makeBuddy(32 * MiB, {}, [[20 * MiB, 4 * MiB, "firmware"]]);
    const before = holed.buddyinfo();
    expect(() => holed.setState(open.getState())).toThrow(/pfn 0x1400 is not managed here but managed in the snapshot/);
    expect(() => open.setState(holed.getState())).toThrow(/pfn 0x1400 is managed here but not in the snapshot/);
    expect(holed.buddyinfo()).toBe(before);
    holed.checkInvariants();
    // Every frame handed out afterwards is still outside the reservation.
    for (let addr = holed.allocPages(0); addr !== 0; addr = holed.allocPages(0)) expect(addr >= 20 * MiB && addr < 24 * MiB).toBe(false);
  });
});

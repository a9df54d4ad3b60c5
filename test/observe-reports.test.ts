// The /proc-style reports computed from snapshots: byte for byte the allocator's own buddyinfo and
// extfrag files, a pagetypeinfo table whose rows add up to the free frames, and the snapshot encoding
// that traces carry (run-length, base64) giving back the same bytes.

import { describe, expect, it } from "vitest";
import { GFP } from "../src/mem/index.js";
import { buddyinfoOf, decodeMeta, encodeMeta, extfragIndexOf, formatProcReports, pagetypeinfoOf, takeSnapshot, unusableIndexOf, zoneStats } from "../src/observe/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";
import { Cmd } from "../src/protocol/abi.js";
import { observedGuest } from "./observe-fixtures.js";

function churned(seed: number) {
  const buddy = makeBuddy(1024 * MiB, { pcp: { high: 378, batch: 63 } });
  let x = seed;
  const live: [number, number][] = [];
  for (let i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    if ((x & 1) === 1 && live.length > 0) {
      const [a, o] = live.splice((x >>> 1) % live.length, 1)[0]!;
      buddy.freePages(a, o);
    } else {
      const order = (x >>> 8) % 6;
      const a = buddy.allocPages(order, GFP.HIGHMEM);
      if (a !== 0) live.push([a, order]);
    }
  }
  return buddy;
}

describe("reports from snapshots", () => {
  it("match the allocator's buddyinfo, unusable_index and extfrag_index byte for byte", () => {
    const buddy = churned(12345);
    const zones = zoneStats(takeSnapshot(buddy, null, 1024 * MiB, 0));
    expect(buddyinfoOf(zones)).toBe(buddy.buddyinfo());
    expect(unusableIndexOf(zones)).toBe(buddy.unusableIndex());
    expect(extfragIndexOf(zones)).toBe(buddy.extfragIndex());
  });

  it("print a negative extfrag index as Linux does (' 0.-500'), as the allocator's own text", () => {
    // One free order-0 frame left: for order 1, __fragmentation_index is 1000 - 1500 / 1 = -500.
    const buddy = makeBuddy(8 * MiB, { pcp: false });
    const taken: number[] = [];
    for (let a = buddy.allocPages(0); a !== 0; a = buddy.allocPages(0)) taken.push(a);
    buddy.freePages(taken.pop()!, 0);
    const zones = zoneStats(takeSnapshot(buddy, null, 8 * MiB, 0));
    expect(buddy.extfragIndex()).toContain(" 0.-500 ");
    expect(extfragIndexOf(zones)).toBe(buddy.extfragIndex());
  });

  it("pagetypeinfo rows add up to the free frames, and pageblocks to the zone", () => {
    const buddy = churned(777);
    const snap = takeSnapshot(buddy, null, 1024 * MiB, 0);
    const zones = zoneStats(snap);
    const info = buddy.zones();
    zones.forEach((z, k) => {
      expect(z.freeFrames).toBe(info[k]!.free);
      expect(z.pcpFrames).toBe(buddy.pcpFrames()[k]);
      expect(z.pcpBlocks.reduce((n, c, o) => n + c * 2 ** o, 0)).toBe(z.pcpFrames);
      expect(z.freeFrames + z.pcpFrames + z.allocFrames).toBe(z.managed);
      expect(z.blocksFree + z.blocksMixed + z.blocksFull).toBe(Math.ceil((snap.zoneHi[z.zone]! - snap.zoneLo[z.zone]!) / 1024));
    });
    const text = pagetypeinfoOf(zones, 10);
    expect(text.split("\n").slice(0, 4)).toEqual(["Page block order: 10", "Pages per block:  1024", "", "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 "]);
    expect(text).toContain("Node    0, zone   Normal, type        Buddy ");
    expect(text).toContain("Node    0, zone  HighMem, type       PerCpu ");
    // Linux's "%-23s" then "%12s " per type.
    expect(text).toContain("\nNumber of blocks type          Free        Mixed    Allocated \n");
    expect(formatProcReports(snap, "t")).toContain(`free ${buddy.freePageCount} of ${buddy.managedPageCount} managed frames`);
  });

  it("the snapshot encoding round-trips and rejects a wrong length", () => {
    const buddy = churned(99);
    const meta = buddy.meta;
    const text = encodeMeta(meta);
    expect(text.length).toBeLessThan(meta.length);
    expect(Buffer.compare(decodeMeta(text, meta.length), meta)).toBe(0);
    expect(() => decodeMeta(text, meta.length + 1)).toThrow(/runs cover/);
    const long = new Uint8Array(300000).fill(7);
    expect(Buffer.compare(decodeMeta(encodeMeta(long), 300000), long)).toBe(0);
  });

  it("are printed on demand: at each MARK and every N calls", () => {
    const texts: string[] = [];
    const o = observedGuest({ reportEvery: 10, onText: (t) => texts.push(t) });
    o.g.ram.set(new TextEncoder().encode("phase:x\0"), 0x10a000);
    for (let i = 0; i < 24; i++) o.callAt(0x101000, 0, i === 5 ? Cmd.MARK : Cmd.ALLOC_PAGES, i === 5 ? 0x10a000 : 0, 0);
    const titles = texts.map((t) => t.split(":")[0]);
    expect(titles).toEqual(['== reports at MARK "phase', "== reports after call 9", "== reports after call 19"]);
    expect(texts[2]).toContain("/proc/buddyinfo:\n" + o.g.bridge.allocator!.buddyinfo().split("\n")[0]);
    expect(texts[2]).toMatch(/\nallocs +18 /);
  });
});

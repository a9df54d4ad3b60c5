// EventSubscriber.onBlock, the hub's numbers-only path for alloc, free, split and merge, against the
// stamped-event path it stands in for: the web page's event ring (read by its event log and its page
// owner, PresentOwner), the CLI's page owner and the per-order counters fed through onBlock end a
// real guest's run exactly as
// their twins fed only through onEvent (same ring entries in the same order, stacks included; same
// owner records, peak and invalid frees; same counts). The web page's present-only owner also keeps,
// for every frame it names, the CLI's page owner's record. Workloads with contiguous ranges, BATCH
// records and hostile requests (invalid frees, bad orders) cover every kind.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { EventHub } from "../src/observe/event-hub.js";
import { OrderCounters } from "../src/observe/order-counters.js";
import { PageOwner } from "../src/observe/page-owner.js";
import { PresentOwner } from "../src/observe/present-owner.js";
import { codeRanges } from "../src/observe/stack-walk.js";
import { EventRing } from "../src/observe/event-ring.js";
import { EventLog } from "../src/web/event-log.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);

/** The same subscriber's onEvent alone: the hub then hands it stamped events of every kind. */
function eventsOnly(target: EventRing | PageOwner | OrderCounters): { onEvent: EventRing["onEvent"]; onCallEnd?: (seq: number) => void } {
  return { onEvent: (e) => target.onEvent(e), ...(target instanceof PageOwner ? { onCallEnd: (seq: number) => target.onCallEnd(seq) } : {}) };
}

async function twinRun(kernel: Uint8Array, cmdline: string) {
  const elf = readElf32(kernel);
  const hub = new EventHub({ code: codeRanges(elf) });
  const where = (kind: string, stack: number, eip: number): string => `${kind}:${stack}:${eip.toString(16)}`;
  // The web page's ring, read by its event log and its present-only page owner.
  const rings = [new EventRing(hub), new EventRing(hub)] as const;
  const logs = [new EventLog(rings[0], where), new EventLog(rings[1], where)] as const;
  const owners = [new PageOwner(hub), new PageOwner(hub)] as const;
  const counters = [new OrderCounters(), new OrderCounters()] as const;
  const present = [new PresentOwner(hub, rings[0]), new PresentOwner(hub, rings[1])] as const;
  for (const s of [rings[0], owners[0], counters[0]]) hub.subscribe(s);
  for (const s of [rings[1], owners[1], counters[1]]) hub.subscribe(eventsOnly(s));
  // Each allocation's and free's instruction count as its stamped event carries it.
  const icounts = new Map<string, number>();
  hub.subscribe({ onEvent: (e) => void ((e.kind === "alloc" || e.kind === "free") && icounts.set(`${e.kind} ${e.seq} ${e.pfn}`, e.icount)) });
  const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline, observer: hub, timeoutMs: 120_000 });
  expect(result.reason, result.guestLog).toBe("exit");
  const buddy = hub.allocator!;
  return { logs, owners, counters, present, icounts, frames: [buddy.basePfn, buddy.basePfn + buddy.frameCount] as const };
}

describe.skipIf(!existsSync(IMAGE))("the hub's onBlock path", () => {
  const kernel = existsSync(IMAGE) ? new Uint8Array(readFileSync(IMAGE)) : new Uint8Array(0);

  for (const cmdline of ["workload=demo ops=150 seed=7", "workload=contig ops=60 seed=3", "workload=batch ops=80 seed=5", "workload=hostile seed=2"]) {
    it(`gives the event log and the page owner what stamped events give them (${cmdline})`, async () => {
      const { logs, owners, counters, present, icounts, frames } = await twinRun(kernel, cmdline);
      // The web page's present-only owner: the same record for every frame either way.
      for (let pfn = frames[0]; pfn < frames[1]; pfn++) {
        const r = present[0].rowOfFrame(pfn);
        expect(r, `pfn 0x${pfn.toString(16)}`).toBe(present[1].rowOfFrame(pfn));
        if (r >= 0) expect(present[0].row(r)).toEqual(present[1].row(r));
      }
      expect(present[0].invalidFrees).toEqual(present[1].invalidFrees);
      expect(present[0].liveAt(Infinity)).toEqual(present[1].liveAt(Infinity));
      // And what it keeps is what the CLI's page owner, which keeps everything, says of each frame.
      let named = 0;
      for (let pfn = frames[0]; pfn < frames[1]; pfn++) {
        const r = present[0].rowOfFrame(pfn);
        if (r < 0) continue;
        named++;
        expect(present[0].row(r), `pfn 0x${pfn.toString(16)}`).toEqual(owners[0].row(owners[0].rowOfFrame(pfn)));
      }
      expect(named).toBeGreaterThan(0);
      const livePfns = (o: PageOwner | PresentOwner): number[] => o.liveAt(Infinity).map((r) => o.row(r).pfn).sort((a, b) => a - b);
      expect(livePfns(present[0])).toEqual(livePfns(owners[0]));
      expect(present[0].invalidFrees).toEqual(owners[0].invalidFrees);
      expect(counters[0].data(10)).toEqual(counters[1].data(10));
      expect(counters[0].data(10).perOrder.splits.some((n) => n > 0)).toBe(true);
      const [block, event] = logs;
      expect(block.total).toBeGreaterThan(100);
      expect(block.total).toBe(event.total);
      const kinds = new Set<string>();
      for (let i = 0; i < block.size; i++) {
        const a = block.get(i);
        kinds.add(a.kind);
        expect(a, `event ${i} from the newest`).toEqual(event.get(i));
      }
      for (const kind of ["alloc", "free", "split", "merge"]) expect(kinds.has(kind), kind).toBe(true);
      // Stacks were logged: allocations name a backtrace, not the EIP fallback.
      expect([...Array(block.size).keys()].some((i) => block.get(i).kind === "alloc" && !block.get(i).where.startsWith("alloc:-1"))).toBe(true);

      const [viaBlock, viaEvent] = owners;
      expect(viaBlock.count).toBeGreaterThan(0);
      expect(viaBlock.count).toBe(viaEvent.count);
      for (let r = 0; r < viaBlock.count; r++) expect(viaBlock.row(r), `row ${r}`).toEqual(viaEvent.row(r));
      // The instruction counts the owners keep are the events' own, and those move on with the calls.
      const bySeq = [...icounts].map(([key, icount]) => [Number(key.split(" ")[1]), icount] as const).sort((a, b) => a[0] - b[0]);
      expect(bySeq[0]![1]).toBeGreaterThan(0);
      for (let k = 1; k < bySeq.length; k++) expect(bySeq[k]![1], `call ${bySeq[k]![0]}`).toBeGreaterThanOrEqual(bySeq[k - 1]![1]);
      let frees = 0;
      for (let r = 0; r < viaBlock.count; r++) {
        const row = viaBlock.row(r);
        expect(row.allocIcount, `row ${r}`).toBe(icounts.get(`alloc ${row.allocSeq} ${row.pfn}`));
        if (row.freeSeq < 0) continue;
        frees++;
        expect(row.freeIcount, `row ${r}`).toBe(icounts.get(`free ${row.freeSeq} ${row.pfn}`));
      }
      expect(frees).toBeGreaterThan(0);
      expect([viaBlock.liveFrames, viaBlock.liveBlocks, viaBlock.peakFrames, viaBlock.peakSeq]).toEqual([viaEvent.liveFrames, viaEvent.liveBlocks, viaEvent.peakFrames, viaEvent.peakSeq]);
      expect(viaBlock.invalidFrees).toEqual(viaEvent.invalidFrees);
    }, 60_000);
  }

  it("walks no stack for onBlock subscribers that do not ask for backtraces (blockStacks)", async () => {
    const hub = new EventHub({ code: codeRanges(readElf32(kernel)) });
    const counters = new OrderCounters();
    hub.subscribe(counters);
    const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline: "workload=churn ops=200", observer: hub, timeoutMs: 120_000 });
    expect(result.reason, result.guestLog).toBe("exit");
    expect(counters.data(10).perOrder.allocs[0]).toBeGreaterThanOrEqual(200);
    expect(hub.depot.size).toBe(0);
    // A subscriber that asks gets them.
    const withLog = new EventHub({ code: codeRanges(readElf32(kernel)) });
    withLog.subscribe(new EventRing(withLog));
    await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline: "workload=churn ops=200", observer: withLog, timeoutMs: 120_000 });
    expect(withLog.depot.size).toBeGreaterThan(0);
  }, 60_000);

  it("the hostile workload's invalid frees reach the page owner (the onEvent kinds beside onBlock)", async () => {
    const { owners, present } = await twinRun(kernel, "workload=hostile seed=2");
    expect(owners[0].invalidFreeCount).toBeGreaterThan(0);
    // And the web page's owner, which finds them in its ring's protocol errors.
    expect(present[0].invalidFreeCount).toBe(owners[0].invalidFreeCount);
  }, 60_000);
});

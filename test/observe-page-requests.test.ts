// The event hub tells its subscribers of page requests itself (BuddyListener.reportsPageRequests):
// with the hub as the allocator's only listener, the allocator serves alloc_pages and free_pages on
// its fast paths and tells the hub only of what they cause, and the hub tells of each request that
// ended OK when its call or BATCH record ends, the free before the merges and drain it caused. Here a
// real guest's run observed that way gives exactly the event stream of the same run whose allocator
// tells every event (a second, silent listener beside the hub): every event's kind, call, record,
// frames, order, zone, gfp, status, EIP and backtrace, in the same order, and one instruction count
// per call (the counts themselves differ between two runs: v86's timer interrupts follow real time).
// Pure buddy and per-CPU lists, BATCH records, hostile requests and injected failures.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { fanOutListener, type BuddyAllocator, type BuddyListener, type PcpOptions } from "../src/mem/index.js";
import { EventHub } from "../src/observe/event-hub.js";
import { EventRing } from "../src/observe/event-ring.js";
import { EF_SEQ, EF_STRIDE, E_STRIDE } from "../src/observe/layout.js";
import { codeRanges } from "../src/observe/stack-walk.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);

const silent: BuddyListener = {
  alloc() {},
  free() {},
  split() {},
  merge() {},
  fail() {},
  pcpDrain() {},
  allocContig() {},
  freeContig() {},
};

interface Twin {
  events: string[];
  /** The web page's event ring (an onBlock subscriber, as on the page): each entry's ints and call number. */
  ring: string[];
  /** Calls whose events did not all carry the same instruction count. */
  icountMismatches: number;
  /** Whether the allocator took page requests on its fast paths during the run. */
  fast: boolean;
  /** Events of kinds merge and pcp-drain that follow a free of the same call and record. */
  causedByFree: number;
}

/**
 * One observed run. `allocatorTells`: a silent listener beside the hub, so the allocator tells every
 * event; `failEvery`: an injected failure every N-th allocation.
 */
async function observedRun(kernel: Uint8Array, cmdline: string, pcp: PcpOptions | undefined, allocatorTells: boolean, failEvery: number): Promise<Twin> {
  const hub = new EventHub({ code: codeRanges(readElf32(kernel)) });
  const ring = new EventRing(hub);
  hub.subscribe(ring);
  const events: string[] = [];
  let fast = false;
  let hooked = false;
  let lastFree = "";
  let causedByFree = 0;
  const icounts = new Map<number, number>();
  let icountMismatches = 0;
  hub.subscribe({
    onEvent: (e) => {
      const frames = e.kind === "alloc" || e.kind === "free" || e.kind === "protocol-error" ? hub.depot.frames(hub.currentStack()).join(",") : "";
      events.push([e.kind, e.seq, e.record, e.cmd, e.pfn, e.order, e.npages, e.zone, e.gfp, e.status, e.eip, e.injected, e.label, frames].join(" "));
      // (A port misuse is sampled on its own, with the next call's number.)
      if (e.kind === "protocol-error" && e.cmd === -1) return;
      if ((icounts.get(e.seq) ?? e.icount) !== e.icount) icountMismatches++;
      icounts.set(e.seq, e.icount);
      const at = `${e.seq}/${e.record}`;
      if (e.kind === "free") lastFree = at;
      else if ((e.kind === "merge" || e.kind === "pcp-drain") && lastFree === at) causedByFree++;
    },
    onCallEnd: () => {
      const buddy: BuddyAllocator | null = hub.allocator;
      if (buddy === null) return;
      if (!hooked) {
        hooked = true;
        if (allocatorTells) buddy.listener = fanOutListener(buddy.listener!, silent);
        if (failEvery > 0) {
          let n = 0;
          buddy.failPredicate = () => ++n % failEvery === 0;
        }
      }
      if (buddy.fastPathsOpen) fast = true;
    },
  });
  const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline, observer: hub, timeoutMs: 120_000, ...(pcp !== undefined ? { pcp } : {}) });
  expect(result.reason, result.guestLog).toBe("exit");
  expect(ring.total).toBeLessThan(ring.ints.length / E_STRIDE);
  const entries: string[] = [];
  for (let n = 0; n < ring.total; n++) entries.push(`${ring.ints.subarray(n * E_STRIDE, (n + 1) * E_STRIDE).join(" ")} ${ring.floats[n * EF_STRIDE + EF_SEQ]}`);
  return { events, ring: entries, icountMismatches, fast, causedByFree };
}

describe.skipIf(!existsSync(IMAGE))("page requests told by the hub", () => {
  const kernel = existsSync(IMAGE) ? new Uint8Array(readFileSync(IMAGE)) : new Uint8Array(0);
  const cases: [string, PcpOptions | undefined, number][] = [
    ["workload=random ops=3000 seed=4", undefined, 0],
    ["workload=random ops=3000 seed=4", false, 0],
    ["workload=batch ops=120 seed=5", false, 0],
    ["workload=batch ops=120 seed=5", { high: 8, batch: 2 }, 0],
    ["workload=hostile seed=2", undefined, 0],
    ["workload=demo ops=150 seed=7", undefined, 5],
  ];
  for (const [cmdline, pcp, failEvery] of cases) {
    it(`give the stream the allocator would (${cmdline}, pcp ${JSON.stringify(pcp ?? "default")}${failEvery > 0 ? `, every ${failEvery}th allocation failed` : ""})`, async () => {
      const hubTells = await observedRun(kernel, cmdline, pcp, false, failEvery);
      const allocatorTells = await observedRun(kernel, cmdline, pcp, true, failEvery);
      // The hub alone kept the fast paths (but with a fault predicate, which needs the slow paths).
      expect(hubTells.fast).toBe(failEvery === 0);
      expect(allocatorTells.fast).toBe(false);
      expect(hubTells.events.length).toBeGreaterThan(200);
      expect(hubTells.events.filter((e) => e.startsWith("free ")).length).toBeGreaterThan(50);
      for (let i = 0; i < allocatorTells.events.length; i++) expect(hubTells.events[i], `event ${i}`).toBe(allocatorTells.events[i]);
      expect(hubTells.events.length).toBe(allocatorTells.events.length);
      expect(hubTells.icountMismatches).toBe(0);
      // The page's ring, fed through onBlock, holds the same entries.
      expect(hubTells.ring.length).toBe(hubTells.events.length);
      expect(hubTells.ring).toEqual(allocatorTells.ring);
      // Frees that merged or drained were told before what they caused, in both runs.
      if (cmdline.includes("random")) expect(allocatorTells.causedByFree).toBeGreaterThan(10);
      expect(hubTells.causedByFree).toBe(allocatorTells.causedByFree);
    }, 120_000);
  }
});

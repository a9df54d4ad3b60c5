// Same kernel, cmdline, memory and seed give the identical event sequence, run after run (apart from
// the instruction counter, which v86 only approximates inside a port handler), and so the same trace
// file apart from its `icount` args. Boots the real guest twice.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { ObserveSession, copyEvent, describeEvent, writeTrace, type AllocatorEvent } from "../src/observe/index.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);

async function observedRun(kernel: Uint8Array, cmdline: string): Promise<{ events: string[]; kinds: Set<string>; trace: string }> {
  const session = new ObserveSession({ elf: readElf32(kernel), trace: { limit: 1_000_000, snapshotEvery: 500 } });
  const events: AllocatorEvent[] = [];
  session.hub.subscribe({ onEvent: (e) => events.push(copyEvent(e)) });
  const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline, observer: session.hub, timeoutMs: 120_000 });
  expect(result.reason, result.guestLog).toBe("exit");
  expect(result.exitCode, result.guestLog).toBe(0);
  const r = session.finish(result);
  let trace = "";
  writeTrace(session.trace!, { otherData: { cmdline }, endSeq: r.endSeq, endIcount: 0, timeline: r.timeline, finalSnapshot: r.finalSnapshot, atSnapshot: r.atSnapshot, at: { spec: "peak", seq: r.atSeq, title: r.atTitle, rows: [], icount: 0 }, leaks: [], stacks: {}, invalidFreesText: r.invalidFreesText, counters: r.counters, summary: {} }, (chunk) => (trace += chunk));
  return {
    events: events.map((e) => describeEvent({ ...e, icount: 0 }) + ` rec ${e.record} cmd ${e.cmd}`),
    kinds: new Set(events.map((e) => e.kind)),
    trace: trace.replace(/"icount":\d+/g, '"icount":_'),
  };
}

describe.skipIf(!existsSync(IMAGE))("determinism of the event stream", () => {
  it("two runs of the demo give the same events and the same trace apart from icount", async () => {
    const kernel = new Uint8Array(readFileSync(IMAGE));
    const cmdline = "workload=demo ops=150 seed=7";
    const a = await observedRun(kernel, cmdline);
    const b = await observedRun(kernel, cmdline);
    expect(a.events.length).toBeGreaterThan(1000);
    for (const kind of ["alloc", "free", "split", "merge", "mark", "pcp-drain"]) expect(a.kinds.has(kind), kind).toBe(true);
    // Compare in slices so a failure names the first difference rather than dumping everything.
    const first = a.events.findIndex((e, i) => e !== b.events[i]);
    expect(first === -1 ? null : { at: first, a: a.events[first], b: b.events[first] }).toBeNull();
    expect(b.events.length).toBe(a.events.length);
    expect(a.trace === b.trace).toBe(true);
  });
});

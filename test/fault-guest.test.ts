// Fault injection on a real guest (the random workload): the same options fail the same calls in
// every run; each injected failure reaches the guest as ENOMEM and is an allocator event (fail,
// injected); --fail-nth, --fail-order and --fail-site (matched against the guest's call stack) pick
// exactly the allocations they name.
import { describe, expect, it } from "vitest";
import { runMachine } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { DebugSession } from "../src/debug/session.js";
import type { FaultOptions } from "../src/debug/fault-inject.js";
import { EventHub } from "../src/observe/index.js";
import { GUEST_TIMEOUT_MS, MiB, field, guestKernel, summaryLine, transcript } from "./workload-fixtures.js";

async function random(fault: FaultOptions, ops = 3000) {
  const session = new DebugSession({ fault, eventTail: 4096 });
  const r = await runMachine({
    kernel: guestKernel(),
    platform: nodePlatform(),
    memoryBytes: 32 * MiB,
    cmdline: `workload=random seed=4 ops=${ops}`,
    onAllocator: session.onAllocator,
    timeoutMs: GUEST_TIMEOUT_MS - 10_000,
  });
  return { r, faults: session.faults!, tail: session.tail!.events() };
}

describe("fault injection on the random guest", () => {
  it("--fail-probability with a seed fails the same calls every run, and the guest sees each as ENOMEM", async () => {
    const a = await random({ failProbability: 0.08, seed: 11 });
    const b = await random({ failProbability: 0.08, seed: 11 });
    const c = await random({ failProbability: 0.08, seed: 12 });
    expect(a.r.exitCode, transcript(a.r)).toBe(0);
    expect(a.faults.injected).toBeGreaterThan(50);
    expect(b.faults.log).toEqual(a.faults.log);
    expect(b.r.counters).toEqual(a.r.counters);
    expect(c.faults.log).not.toEqual(a.faults.log);
    // Every injected failure reached the guest (it counts ENOMEMs) and the bridge counted it.
    expect(field(summaryLine(a.r, "random"), "enomem")).toBe(a.faults.injected);
    expect(a.r.counters.statuses.ENOMEM).toBe(a.faults.injected);
    // ... and is an allocator event, at the call it hit.
    // (The tail keeps the last 4096 events: the injected failures in it are the log's last ones.)
    const inTail = a.tail.filter((e) => e.kind === "fail" && e.injected).map((e) => e.seq);
    expect(inTail.length).toBeGreaterThan(0);
    expect(inTail).toEqual(a.faults.log.map((f) => f.seq).slice(-inTail.length));
  }, GUEST_TIMEOUT_MS);

  it("--fail-nth fails exactly one allocation; --fail-order only orders >= K", async () => {
    const nth = await random({ failNth: 40 });
    expect(nth.faults.injected).toBe(1);
    expect(nth.r.counters.statuses.ENOMEM).toBe(1);
    const fail = nth.tail.find((e) => e.kind === "fail");
    expect(fail).toMatchObject({ seq: nth.faults.log[0]!.seq, injected: true });

    const big = await random({ failOrder: 3 });
    expect(big.faults.injected).toBeGreaterThan(0);
    for (const f of big.faults.log) expect(f.order === -1 ? f.npages > 4 : f.order >= 3, JSON.stringify(f)).toBe(true);
    expect(big.faults.injected).toBe(big.faults.candidates);
  }, GUEST_TIMEOUT_MS);

  it("--fail-site matches the guest's stack: only live_init's allocation fails, and the guest says so", async () => {
    const site = await random({ failSite: "live_init" });
    expect(site.faults.injected).toBe(1);
    expect(site.faults.log[0]!.order).toBe(-1); // the live set is one ALLOC_CONTIG range
    expect(site.r.exitCode).toBe(1);
    expect(site.r.guestLog).toMatch(/live set of \d+ pages: status 1/);
    const none = await random({ failSite: "no_such_function" });
    expect(none.faults.injected).toBe(0);
    expect(none.r.exitCode, transcript(none.r)).toBe(0);
  }, GUEST_TIMEOUT_MS);

  it("each injected failure is an event of issue 5's stream (what --trace writes), at the call it hit", async () => {
    const hub = new EventHub();
    const seen: number[] = [];
    hub.subscribe({ onEvent: (e) => void (e.kind === "fail" && e.injected && seen.push(e.seq)) });
    const session = new DebugSession({ fault: { failEvery: 25 } });
    const r = await runMachine({
      kernel: guestKernel(),
      platform: nodePlatform(),
      memoryBytes: 32 * MiB,
      cmdline: "workload=random seed=4 ops=2000",
      onAllocator: session.onAllocator,
      observer: hub,
      timeoutMs: GUEST_TIMEOUT_MS - 10_000,
    });
    expect(r.exitCode, transcript(r)).toBe(0);
    expect(session.faults!.injected).toBeGreaterThan(10);
    expect(seen).toEqual(session.faults!.log.map((f) => f.seq));
  }, GUEST_TIMEOUT_MS);
});

// The real guest image (images/buddy86-guest.elf) booted in v86 and judged from the host: guest
// EXIT 0, allocator invariants after the run, every frame handed out in usable RAM outside every
// reservation, and the free count restored. Fails with the guest transcript.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { runMachine, type BridgeObserver, type MachineResult } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);
const MiB = 1024 * 1024;
const PAGE = 4096;

/** Collects every block the host handed out: direct calls and BATCH records. */
class HandedOut implements BridgeObserver {
  /** addr -> largest size in bytes seen at that address. */
  readonly blocks = new Map<number, number>();

  onCall(_seq: number, cmd: number, arg0: number, _arg1: number, _arg2: number, result: number, status: number): void {
    if (status !== Status.OK) return;
    if (cmd === Cmd.ALLOC_PAGES) this.add(result, PAGE << arg0);
    else if (cmd === Cmd.ALLOC_CONTIG) this.add(result, arg0 * PAGE);
  }

  onRecord(_seq: number, _i: number, cmd: number, arg0: number, _arg1: number, result: number, status: number): void {
    if (status === Status.OK && cmd === Cmd.ALLOC_PAGES) this.add(result, PAGE << arg0);
  }

  private add(addr: number, bytes: number): void {
    const known = this.blocks.get(addr);
    if (known === undefined || known < bytes) this.blocks.set(addr, bytes);
  }
}

function transcript(r: MachineResult): string {
  return `${r.reason}: ${r.message}\n--- boot log\n${r.bootLog.join("\n")}\n--- guest log\n${r.guestLog}`;
}

/** The checks every workload run must pass, judged from the host side. */
function judge(r: MachineResult, seen: HandedOut): void {
  const why = transcript(r);
  expect(r.reason, why).toBe("exit");
  expect(r.exitCode, why).toBe(0);
  const a = r.allocator!;
  a.checkInvariants();
  expect(a.freePageCount, "free count restored").toBe(a.managedPageCount);
  expect(r.counters.statuses.ESTATE + r.counters.statuses.ENOSYS + r.counters.protocolErrors).toBe(0);

  const map = r.memoryMap!;
  const usable = map.usable().map((u) => ({ base: Math.ceil(u.base / PAGE) * PAGE, end: Math.floor(u.end / PAGE) * PAGE }));
  const reserved = map.reserved().map((x) => ({ base: Math.floor(x.base / PAGE) * PAGE, end: Math.ceil(x.end / PAGE) * PAGE, label: x.label }));
  expect(seen.blocks.size).toBeGreaterThan(0);
  for (const [addr, bytes] of seen.blocks) {
    const end = addr + bytes;
    const where = `block [0x${addr.toString(16)}, 0x${end.toString(16)})`;
    expect(addr % PAGE, where).toBe(0);
    expect(usable.some((u) => u.base <= addr && end <= u.end), `${where} lies in usable RAM`).toBe(true);
    const hit = reserved.find((x) => x.base < end && addr < x.end);
    expect(hit, `${where} overlaps reservation ${hit?.label}`).toBeUndefined();
  }
}

describe.skipIf(!existsSync(IMAGE))("the guest image, judged from the host", () => {
  const kernel = new Uint8Array(existsSync(IMAGE) ? readFileSync(IMAGE) : []);

  it.each([
    [16, "workload=churn ops=20000"],
    [128, "workload=churn ops=20000"],
    [16, "workload=fill"],
    [128, "workload=fill"],
  ])("%i MiB: %s", async (mib, cmdline) => {
    const seen = new HandedOut();
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: mib * MiB, cmdline, observer: seen, timeoutMs: 120_000 });
    judge(r, seen);
    if (cmdline.includes("churn")) {
      expect(r.counters.calls.ALLOC_PAGES).toBe(20000);
      expect(r.counters.calls.FREE_PAGES).toBe(20000);
    } else {
      // fill takes every managed frame once (plus the final largest-order block).
      expect(r.counters.calls.ALLOC_PAGES).toBe(r.allocator!.managedPageCount + 2);
      expect(r.counters.statuses.ENOMEM).toBe(1);
    }
    expect(r.marks.map((m) => m.label)).toContain(`phase:${cmdline.split(" ")[0]!.slice("workload=".length)}`);
  });

  it("128 MiB: the demo workload (each of the image's workloads in turn)", async () => {
    const seen = new HandedOut();
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 128 * MiB, cmdline: "workload=demo ops=500", observer: seen, timeoutMs: 120_000 });
    judge(r, seen);
    const phases = r.marks.map((m) => m.label).filter((l) => l.startsWith("phase:") && l !== "phase:demo");
    expect(phases.length).toBeGreaterThanOrEqual(2);
    for (const phase of phases) expect(r.guestLog, transcript(r)).toContain(`${phase.slice("phase:".length)}: PASS`);
    if (phases.includes("phase:batch")) expect(r.counters.totalRecords).toBeGreaterThan(0);
    if (phases.includes("phase:contig")) expect(r.counters.calls.ALLOC_CONTIG).toBeGreaterThan(0);
  });
});

// The largest sizes take tens of seconds (fill writes every page): run them with BUDDY86_BIG_RAM=1.
describe.runIf(existsSync(IMAGE) && process.env.BUDDY86_BIG_RAM)("the guest image at 1 GiB and 2 GiB - 128 KiB", () => {
  const kernel = new Uint8Array(existsSync(IMAGE) ? readFileSync(IMAGE) : []);

  it.each([
    [1024 * MiB, "workload=churn ops=100000"],
    [0x7ffe0000, "workload=churn ops=100000"],
    [1024 * MiB, "workload=fill"],
    [0x7ffe0000, "workload=fill"],
  ])("%i bytes: %s", async (bytes, cmdline) => {
    const seen = new HandedOut();
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: bytes, cmdline, observer: seen, timeoutMs: 300_000 });
    judge(r, seen);
    expect(r.allocator!.zoneCount).toBe(3);
  }, 300_000);
});

// Exhaustion at scale: the `fill` workload at 1 GiB and at v86's largest RAM (2 GiB - 128 KiB), with
// HighMem in play. Judged from the host, frame by frame: until the first ENOMEM every managed frame
// is handed out exactly once (all three zones), every one comes back, and after a drain of the
// per-CPU cache the free lists are exactly the boot's (/proc/buddyinfo byte for byte): full
// coalescing. CI runs 1 GiB; BUDDY86_SCALE=1 adds 2 GiB - 128 KiB (about 30 s more: the fill touches
// every page), which the other guest tests already boot for the workloads' own checks.
import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import type { BridgeObserver, HypercallBridge } from "../src/machine/index.js";
import { GUEST_TIMEOUT_MS, GiB, MAX_RAM, bootGuest, transcript, zoneOf } from "./workload-fixtures.js";

const PAGE = 4096;

/** Follows the fill: the order-0 allocations up to the first ENOMEM, and every free. */
class FillLedger implements BridgeObserver {
  bridge: HypercallBridge | null = null;
  initialBuddyinfo = "";
  readonly taken = new Uint8Array(2 ** 19);
  filling = true;
  handedOut = 0;
  twice = 0;
  returned = 0;
  readonly perZone = [0, 0, 0];

  attach(bridge: HypercallBridge): void {
    this.bridge = bridge;
  }

  onCall(_seq: number, cmd: number, arg0: number, _arg1: number, _arg2: number, result: number, status: number): void {
    if (cmd === Cmd.MEMMAP && status === Status.OK) this.initialBuddyinfo = this.bridge!.allocator!.buddyinfo();
    if (cmd === Cmd.ALLOC_PAGES && this.filling) {
      if (status === Status.ENOMEM) this.filling = false;
      else if (status === Status.OK && arg0 === 0) {
        const pfn = result / PAGE;
        if (this.taken[pfn]) this.twice++;
        this.taken[pfn] = 1;
        this.handedOut++;
        this.perZone[zoneOf(result)]!++;
      }
    }
    if (cmd === Cmd.FREE_PAGES && status === Status.OK && arg0 / PAGE < this.taken.length && this.taken[arg0 / PAGE] === 1) {
      this.taken[arg0 / PAGE] = 2;
      this.returned++;
    }
  }
}

const SIZES: [string, number][] = [["1 GiB", GiB]];
if (process.env.BUDDY86_SCALE === "1") SIZES.push(["2 GiB - 128 KiB", MAX_RAM]);

describe("fill at scale: every frame once, all back, full coalescing", () => {
  it.each(SIZES)("%s", async (_name, bytes) => {
    const ledger = new FillLedger();
    const { r } = await bootGuest("workload=fill", bytes, ledger);
    const why = transcript(r);
    expect(r.reason, why).toBe("exit");
    expect(r.exitCode, why).toBe(0);
    const a = r.allocator!;
    expect(a.zoneCount, "DMA, Normal and HighMem").toBe(3);
    expect(ledger.twice, "frames handed out twice").toBe(0);
    expect(ledger.handedOut, "one allocation per managed frame").toBe(a.managedPageCount);
    for (let pfn = 0; pfn < ledger.taken.length; pfn++) {
      if ((ledger.taken[pfn] !== 0) !== a.isManagedPfn(pfn)) throw new Error(`pfn 0x${pfn.toString(16)}: managed ${a.isManagedPfn(pfn)}, handed out ${ledger.taken[pfn]}`);
    }
    for (const z of [0, 1, 2]) expect(ledger.perZone[z], `frames from zone ${z}`).toBeGreaterThan(0);
    expect(ledger.returned, "every frame came back").toBe(ledger.handedOut);
    expect(a.freePageCount).toBe(a.managedPageCount);
    a.drain();
    a.checkInvariants();
    expect(a.buddyinfo(), "free lists after a drain: the boot's").toBe(ledger.initialBuddyinfo);
  }, GUEST_TIMEOUT_MS);
});

// The random workload (the W3 stream: random orders, random frees, every block stamped) at every
// RAM size and in a 4 MiB guest where ENOMEM is common, judged from the host; and its stamps must
// catch a live block changed behind its back.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import type { BridgeObserver, HypercallBridge } from "../src/machine/index.js";
import { GUEST_TIMEOUT_MS, MiB, RAM_SIZES, bootGuest, field, judge, summaryLine, transcript } from "./workload-fixtures.js";

const OPS = 10_000;

describe("workload random", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const { r, ledger } = await bootGuest(`workload=random ops=${OPS} seed=11`, bytes);
    judge(r, ledger);
    const line = summaryLine(r, "random");
    expect(line, transcript(r)).toMatch(/^random: PASS /);
    const allocs = field(line, "allocs");
    const enomem = field(line, "enomem");
    // One ALLOC_CONTIG/FREE_CONTIG pair holds the live set; every block allocated is freed.
    expect(r.counters.calls.ALLOC_PAGES).toBe(allocs + enomem);
    expect(r.counters.calls.FREE_PAGES).toBe(allocs);
    expect(r.counters.statuses.ENOMEM).toBe(enomem);
    expect(ledger.ordersSeen.size, "distinct orders").toBeGreaterThanOrEqual(8);
  }, GUEST_TIMEOUT_MS);

  it("counts ENOMEM as normal in a 4 MiB guest", async () => {
    const { r, ledger } = await bootGuest(`workload=random ops=${OPS} seed=5`, 4 * MiB);
    judge(r, ledger);
    const enomem = field(summaryLine(r, "random"), "enomem");
    expect(enomem, transcript(r)).toBeGreaterThan(0);
    expect(r.counters.statuses.ENOMEM).toBe(enomem);
  }, GUEST_TIMEOUT_MS);

  it("exits 3 naming the address, expected and found words when a live block changes", async () => {
    // When the 20th block is handed out, the host flips a word in the middle of the first block
    // that is still live: the guest must notice when it verifies that block before freeing it.
    let bridge: HypercallBridge | null = null;
    const live = new Map<number, number>();
    let allocs = 0;
    let target = -1;
    const corrupter: BridgeObserver = {
      attach(b) {
        bridge = b;
      },
      onCall(_seq, cmd, arg0, arg1, _a2, result, status) {
        if (status !== Status.OK || target >= 0) return;
        if (cmd === Cmd.FREE_PAGES) live.delete(arg0);
        if (cmd !== Cmd.ALLOC_PAGES || arg1 !== 0x2) return;
        live.set(result >>> 0, 4096 << arg0);
        if (++allocs === 20) {
          const [addr, bytes] = live.entries().next().value!;
          target = addr + ((bytes / 2) & ~3);
          bridge!.guestRam[target + 1] ^= 0x5a;
        }
      },
    };
    const { r } = await bootGuest(`workload=random ops=${OPS} seed=11`, 128 * MiB, corrupter);
    expect(target).toBeGreaterThan(0);
    expect(r.exitCode, transcript(r)).toBe(3);
    const expected = (target ^ 11) >>> 0;
    const found = (expected ^ (0x5a << 8)) >>> 0;
    const hex = (n: number): string => "0x" + n.toString(16).padStart(8, "0");
    expect(r.guestLog).toContain(`corruption at ${hex(target)} expected ${hex(expected)} found ${hex(found)}`);
  }, GUEST_TIMEOUT_MS);
});

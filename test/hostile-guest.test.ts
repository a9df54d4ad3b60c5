// The `hostile` guest workload booted in v86: every malformed call the ABI names, a seeded stream of
// garbage registers, then a verified random run, all checked by the guest itself (EXIT 0 only if
// every status, EAX and register held), and judged from the host: every status was returned and
// counted, the five 8/16-bit port accesses were counted as protocol errors, every block handed out
// was valid (HostLedger), and the allocator ends whole.
import { describe, expect, it } from "vitest";
import { GUEST_TIMEOUT_MS, MiB, bootGuest, summaryLine, transcript } from "./workload-fixtures.js";

describe("the hostile guest", () => {
  it.each([
    [16 * MiB, "workload=hostile"],
    [64 * MiB, "workload=hostile seed=7 ops=4000"],
  ])("%i bytes: %s", async (bytes, cmdline) => {
    const { r, ledger } = await bootGuest(cmdline, bytes);
    const why = transcript(r);
    expect(r.reason, why).toBe("exit");
    expect(r.exitCode, why).toBe(0);
    expect(summaryLine(r, "hostile"), why).toMatch(/^hostile: PASS malformed=\d+ garbage=\d+/);
    expect(summaryLine(r, "hostile/random"), why).toMatch(/^hostile\/random: PASS/);
    const s = r.counters.statuses;
    for (const name of ["OK", "ENOMEM", "EINVAL", "EFAULT", "EDOUBLEFREE", "EBADORDER", "ENOTHEAD", "ENOSYS", "ESTATE", "EVERSION"] as const)
      expect(s[name], `${name} returned and counted`).toBeGreaterThan(0);
    expect(r.counters.protocolErrors, "8/16-bit reads and writes").toBe(5);
    expect(r.counters.unknownCalls).toBeGreaterThan(0);
    expect(ledger.problems, why).toEqual([]);
    expect(ledger.liveFrames).toBe(0);
    const a = r.allocator!;
    a.checkInvariants();
    expect(a.freePageCount).toBe(a.managedPageCount);
  }, GUEST_TIMEOUT_MS);
});

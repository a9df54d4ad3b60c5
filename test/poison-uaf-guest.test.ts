// Poison checking on a real guest: the `uaf` workload frees a page and writes 0xdeadbeef into it at
// offset 0x40. With poison on, the host reports that frame, the offset and bytes, and the free site
// of the writer (uaf_free_then_write, by EIP; with issue 5's page owner, its whole stack), and the
// run's outcome reflects it: "report" lets the guest finish (the CLI then exits 4), "stop" ends the
// run at the allocation that found it. Without poison nothing notices.
import { describe, expect, it } from "vitest";
import { runMachine, readElf32 } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { DebugSession, type DebugOptions } from "../src/debug/session.js";
import { ObserveSession } from "../src/observe/index.js";
import { GUEST_TIMEOUT_MS, MiB, guestKernel, transcript } from "./workload-fixtures.js";

async function uaf(options: DebugOptions, observe = false) {
  const session = new DebugSession(options);
  const obs = observe ? new ObserveSession({ elf: readElf32(guestKernel()), owners: true, reportAtMarks: false, timeline: false }) : null;
  if (obs !== null) session.owners = obs;
  const r = await runMachine({
    kernel: guestKernel(),
    platform: nodePlatform(),
    memoryBytes: 16 * MiB,
    cmdline: "workload=uaf",
    onAllocator: session.onAllocator,
    observer: obs?.hub ?? null,
    timeoutMs: GUEST_TIMEOUT_MS - 10_000,
  });
  const m = /after freeing page (0x[0-9a-f]+)/.exec(r.guestLog);
  return { r, session, page: m === null ? -1 : Number(m[1]) };
}

describe("poison on the uaf guest", () => {
  it("reports the frame, the offset and bytes, and the writer's free site; the guest finishes", async () => {
    const { r, session, page } = await uaf({ poison: true });
    expect(r.reason, transcript(r)).toBe("exit");
    expect(r.exitCode).toBe(0);
    expect(page).toBeGreaterThan(0);
    const p = session.poison!;
    expect(p.violationCount).toBe(1);
    const v = p.violations[0]!;
    expect(v.pfn).toBe(page / 4096);
    expect(v.offset).toBe(0x40);
    expect(v.found.slice(0, 4)).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(v.differingBytes).toBe(4);
    expect(v.message).toContain(`frame pfn 0x${v.pfn.toString(16)} (0x${page.toString(16)})`);
    expect(v.message).toMatch(/freed it at call \d+, EIP 0x[0-9a-f]+ \(uaf_free_then_write\+0x[0-9a-f]+\)/);
    expect(v.message).toMatch(/allocated it at call \d+, EIP 0x[0-9a-f]+ \(uaf_run\+0x[0-9a-f]+\)/);
    expect(v.lastFree!.seq).toBeLessThan(v.detectedAt.seq);
  }, GUEST_TIMEOUT_MS);

  it("with the page owner, names the free site by its whole guest stack", async () => {
    const { r, session } = await uaf({ poison: true }, true);
    expect(r.exitCode, transcript(r)).toBe(0);
    const message = session.poison!.violations[0]!.message;
    expect(message).toMatch(/freed it at call \d+:\n\s+uaf_free_then_write\+0x[0-9a-f]+\n\s+uaf_run\+0x[0-9a-f]+\n/);
  }, GUEST_TIMEOUT_MS);

  it("stop: the run ends at the allocation that found it", async () => {
    const { r, session } = await uaf({ poison: true, poisonAction: "stop" });
    expect(r.reason, transcript(r)).toBe("fault");
    expect(r.exitCode).toBeNull();
    expect(r.message).toMatch(/^poison: use after free in frame pfn 0x[0-9a-f]+/);
    expect(session.poison!.violationCount).toBe(1);
    expect(r.guestLog).not.toContain("uaf: PASS");
  }, GUEST_TIMEOUT_MS);

  it("without poison the guest passes and nothing is reported; init_on_free alone zeroes without checking", async () => {
    const plain = await uaf({ initOnFree: true });
    expect(plain.r.exitCode, transcript(plain.r)).toBe(0);
    expect(plain.session.poison!.violationCount).toBe(0);
    expect(plain.r.guestLog).toContain("uaf: PASS");
  }, GUEST_TIMEOUT_MS);
});

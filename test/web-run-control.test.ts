// MachineControl, the hook behind the web page's pause / step / run buttons: the guest pauses exactly
// after the call it was asked to, nothing runs while it is paused, stepping runs exactly N calls, and a
// paused-and-resumed run ends as an uncontrolled one does (same calls, same buddyinfo). Paused time
// counts toward neither the timeout nor guestMs; stop() ends a paused run.

import { describe, expect, test } from "vitest";
import { runMachine, type HypercallBridge, type MachineControl, type MachineResult } from "../src/machine/index.js";
import { nodePlatform, readBytes } from "../src/host/node-platform.js";
import { Cmd } from "../src/protocol/abi.js";

const kernel = readBytes(new URL("../images/buddy86-guest.elf", import.meta.url).pathname);
const CMDLINE = "workload=demo ops=300 seed=5";
const STEP = 7;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function why(r: MachineResult): string {
  return `${r.reason}: ${r.message}\n${r.bootLog.join("\n")}\n${r.guestLog}`;
}

describe("MachineControl", () => {
  test("pauses right after each MARK, steps exactly N calls, and ends like an uncontrolled run", async () => {
    const plain = await runMachine({ kernel, platform: nodePlatform(), cmdline: CMDLINE, timeoutMs: 60_000 });
    expect(plain.exitCode, why(plain)).toBe(0);

    let control: MachineControl | null = null;
    let bridge: HypercallBridge | null = null;
    const markSeqs: number[] = [];
    const pauses: { calls: number; seqAfterWait: number; free: number; freeAfterWait: number }[] = [];
    let waitedMs = 0;
    const result = await runMachine({
      kernel,
      platform: nodePlatform(),
      cmdline: CMDLINE,
      timeoutMs: 60_000,
      observer: {
        attach(b) {
          bridge = b;
        },
        onCall(seq, cmd) {
          if (cmd === Cmd.MARK) {
            markSeqs.push(seq);
            control!.pause();
          }
        },
      },
      onControl(c) {
        control = c;
        c.onPause = (calls) => {
          const b = bridge!;
          const free = b.allocator?.freePageCount ?? -1;
          expect(c.paused).toBe(true);
          expect(c.calls).toBe(calls);
          // Nothing may run while paused: let the event loop turn for a while, then look again.
          const start = performance.now();
          void sleep(60).then(() => {
            waitedMs += performance.now() - start;
            pauses.push({ calls, seqAfterWait: b.seq, free, freeAfterWait: b.allocator?.freePageCount ?? -1 });
            // After a MARK, step STEP calls; at the end of a step, run freely to the next MARK.
            if (markSeqs.includes(calls - 1)) c.step(STEP);
            else c.resume();
          });
        };
      },
    });
    expect(result.reason, why(result)).toBe("exit");
    expect(result.exitCode).toBe(0);
    expect(markSeqs.length).toBe(plain.marks.length);
    // Each MARK pause is right after the MARK call; each step pause STEP calls later, unless a MARK
    // inside the step paused the guest first (the demo's first two MARKs are two calls apart).
    const expected: number[] = [];
    for (let k = 0; k < markSeqs.length; k++) {
      const stepEnd = markSeqs[k]! + 1 + STEP;
      expected.push(markSeqs[k]! + 1);
      if (k + 1 >= markSeqs.length || markSeqs[k + 1]! + 1 > stepEnd) expected.push(stepEnd);
    }
    expect(expected.length).toBeGreaterThan(markSeqs.length);
    expect(pauses.map((p) => p.calls)).toEqual(expected);
    for (const p of pauses) {
      expect(p.seqAfterWait).toBe(p.calls);
      expect(p.freeAfterWait).toBe(p.free);
    }
    // Same determinism as without control: same calls, same free lists at the end.
    expect(result.counters.calls).toEqual(plain.counters.calls);
    expect(result.allocator!.buddyinfo()).toBe(plain.allocator!.buddyinfo());
    // guestMs leaves the pauses out.
    expect(result.guestMs).toBeLessThanOrEqual(result.wallMs - waitedMs);
  }, 90_000);

  test("the timeout does not run while the guest is paused", async () => {
    let paused = 0;
    const result = await runMachine({
      kernel,
      platform: nodePlatform(),
      cmdline: "workload=churn ops=200",
      // The timeout counts the boot too (v86.wasm compiled, the guest booted): 5 s leave a loaded
      // 2-core machine room for that, and the pause outlasts them.
      timeoutMs: 5_000,
      onControl(c) {
        c.pause();
        c.onPause = () => {
          paused++;
          void sleep(6_000).then(() => c.resume());
        };
      },
    });
    expect(result.reason, why(result)).toBe("exit");
    expect(result.exitCode).toBe(0);
    expect(paused).toBe(1);
  }, 30_000);

  test("stop() ends a paused run, and step() wants a whole number of calls", async () => {
    let calls = -1;
    const result = await runMachine({
      kernel,
      platform: nodePlatform(),
      cmdline: "workload=churn ops=200",
      timeoutMs: 30_000,
      onControl(c) {
        expect(() => c.step(0)).toThrow(RangeError);
        c.step(3);
        c.onPause = (n) => {
          calls = n;
          c.stop();
        };
      },
    });
    expect(result.reason).toBe("stopped");
    expect(result.exitCode).toBeNull();
    expect(calls).toBe(3);
    expect(result.counters.calls.HELLO + result.counters.calls.MEMMAP + result.counters.calls.STAT).toBe(3);
  }, 30_000);
});

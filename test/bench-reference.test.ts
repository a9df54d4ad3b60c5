// How `npm run bench` places its processes (src/bench/reference.ts): the CPU the probe found fastest,
// an explicit CPU, or none, and the taskset command line that pins a process; and how it holds its
// tables against issue 2's targets.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allowedCpus, choosePlacement, pinned, targetLine, targetSummary, type TargetRow } from "../src/bench/reference.js";

/** A probe that answers from a table per round and records the CPUs it was asked for. */
function scriptedProbe(rounds: number[][]) {
  const asked: number[] = [];
  let call = 0;
  const probe = (cpu: number) => {
    asked.push(cpu);
    const round = Math.floor(call++ / rounds[0]!.length);
    return rounds[round]![cpu]!;
  };
  return { probe, asked };
}

describe("bench placement", () => {
  it("pins with taskset, or runs the command as it is", () => {
    expect(pinned(null, "/usr/bin/node", ["a.js", "--one"])).toEqual(["/usr/bin/node", ["a.js", "--one"]]);
    expect(pinned(1, "/usr/bin/node", ["a.js", "--one"])).toEqual(["taskset", ["-c", "1", "/usr/bin/node", "a.js", "--one"]]);
  });

  it("auto probes every CPU twice, interleaved, and takes the lowest of each CPU's two", () => {
    // Round 1 says CPU 0; round 2 finds CPU 2 faster than anything in round 1.
    const { probe, asked } = scriptedProbe([
      [9.0, 12.0, 10.0],
      [9.5, 11.0, 8.5],
    ]);
    const p = choosePlacement("auto", probe, [0, 1, 2]);
    expect(asked).toEqual([0, 1, 2, 0, 1, 2]);
    expect(p.cpu).toBe(2);
    expect(p.probes).toEqual([9.0, 11.0, 8.5]);
    expect(p.why).toContain("CPU 2");
    expect(p.why).toContain("CPU 1 11.00");
  });

  it("an explicit CPU or none runs no probe", () => {
    const { probe, asked } = scriptedProbe([[1, 2]]);
    expect(choosePlacement("none", probe, [0, 1])).toEqual({ cpu: null, probes: [], why: "unpinned (--cpu none)" });
    expect(choosePlacement("1", probe, [0, 1]).cpu).toBe(1);
    expect(choosePlacement("auto", probe, [0]).cpu).toBeNull();
    expect(choosePlacement("auto", probe, null)).toEqual({ cpu: null, probes: [], why: "unpinned (no CPU list)" });
    expect(asked).toEqual([]);
  });

  it("rejects a CPU that is not there and a setting that is not one", () => {
    const { probe } = scriptedProbe([[1, 2]]);
    expect(() => choosePlacement("2", probe, [0, 1])).toThrow("--cpu 2 is not auto, none or one of the CPUs allowed here (0, 1)");
    expect(() => choosePlacement("-1", probe, [0, 1])).toThrow("is not auto, none or one of the CPUs");
    expect(() => choosePlacement("fast", probe, [0, 1])).toThrow("is not auto, none or one of the CPUs");
    expect(() => choosePlacement("0", probe, null)).toThrow("--cpu needs Linux's CPU list");
  });

  it("reads the CPUs this process may use, which need not be 0..n-1", () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-cpus-"));
    const status = (list: string): string => {
      const file = join(dir, `status-${list.replace(/\W/g, "_")}`);
      writeFileSync(file, `Name:\tnode\nCpus_allowed:\t34\nCpus_allowed_list:\t${list}\nMems_allowed_list:\t0\n`);
      return file;
    };
    expect(allowedCpus(status("0-1"))).toEqual([0, 1]);
    expect(allowedCpus(status("2,4-5"))).toEqual([2, 4, 5]);
    expect(allowedCpus(join(dir, "none"))).toBeNull();
    expect(() => allowedCpus(status("x-1"))).toThrow('cannot read the CPU list "x-1"');
    // Probed and chosen by CPU number, not by position.
    const asked: number[] = [];
    const p = choosePlacement("auto", (cpu) => (asked.push(cpu), cpu === 5 ? 7 : 9), [2, 5]);
    expect([p.cpu, asked, p.probes]).toEqual([5, [2, 5, 2, 5], [9, 7]]);
    expect(p.why).toContain("CPU 2 9.00, CPU 5 7.00");
  });

  it("the command line it builds runs a process on that CPU", () => {
    // taskset is util-linux's, on every Debian system; the pinned process reports its own affinity.
    const [cmd, args] = pinned(0, "grep", ["Cpus_allowed_list", "/proc/self/status"]);
    expect(execFileSync(cmd, args, { encoding: "utf8" })).toMatch(/Cpus_allowed_list:\s+0\n/);
  });

  /** A table with the four target rows (and one other) at these medians; C's W3 beside W3 pure. */
  function tableAt(w1pcp: number, w1bpcp: number, w2pure: number, w3pure: number, cW3: number | null): TargetRow[] {
    return [
      { workload: "W1", mode: "pcp", median: w1pcp, native: null },
      { workload: "W1b", mode: "pcp", median: w1bpcp, native: null },
      { workload: "W2", mode: "pure", median: w2pure, native: 9.8 },
      { workload: "W3", mode: "pure", median: w3pure, native: cW3 },
      { workload: "W3", mode: "pcp", median: 99, native: null },
    ];
  }

  it("holds a table against the targets, a median equal to its target meeting it", () => {
    expect(targetLine(tableAt(3.5, 3.2, 20.5, 14.61, 11.68))).toBe(
      "targets (median ns per call): W1 pcp 3.50 <= 10, W1b pcp 3.20 <= 5, W2 pure 20.50 <= 25, W3 pure 14.61 <= 15: all met",
    );
    expect(targetLine(tableAt(3.5, 5, 25, 15, 12))).toContain(": all met");
    expect(targetLine(tableAt(3.5, 3.2, 20.5, 15.01, 12))).toBe(
      "targets (median ns per call): W1 pcp 3.50 <= 10, W1b pcp 3.20 <= 5, W2 pure 20.50 <= 25, W3 pure 15.01 >  15: not all met",
    );
    expect(() => targetLine(tableAt(1, 1, 1, 1, 1).slice(1))).toThrow("no W1 pcp row");
  });

  it("sums up several runs: each target's count and range, W3 against C, and all four together", () => {
    const tables = [tableAt(3.5, 3.2, 20.5, 14.4, 12.0), tableAt(3.6, 5.5, 19.0, 15.6, 12.0), tableAt(3.4, 3.3, 26.0, 14.9, null)];
    expect(targetSummary(tables)).toEqual([
      "W1 pcp <= 10: met in 3 of 3 runs (medians 3.40 to 3.60)",
      "W1b pcp <= 5: met in 2 of 3 runs (medians 3.20 to 5.50)",
      "W2 pure <= 25: met in 2 of 3 runs (medians 19.00 to 26.00)",
      "W3 pure <= 15: met in 2 of 3 runs (medians 14.40 to 15.60)",
      "W3 pure against C's W3 in the same run: 1.20 to 1.30 times",
      "all four targets met together in 1 of 3 runs",
    ]);
  });
});

// How `npm run bench` places its processes (src/bench/reference.ts): the CPU the probe found fastest,
// an explicit CPU, or none, and the taskset command line that pins a process.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { choosePlacement, pinned } from "../src/bench/reference.js";

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
    const p = choosePlacement("auto", probe, 3);
    expect(asked).toEqual([0, 1, 2, 0, 1, 2]);
    expect(p.cpu).toBe(2);
    expect(p.probes).toEqual([9.0, 11.0, 8.5]);
    expect(p.why).toContain("CPU 2");
    expect(p.why).toContain("CPU 1 11.00");
  });

  it("an explicit CPU or none runs no probe", () => {
    const { probe, asked } = scriptedProbe([[1, 2]]);
    expect(choosePlacement("none", probe, 2)).toEqual({ cpu: null, probes: [], why: "unpinned (--cpu none)" });
    expect(choosePlacement("1", probe, 2).cpu).toBe(1);
    expect(choosePlacement("auto", probe, 1).cpu).toBeNull();
    expect(asked).toEqual([]);
  });

  it("rejects a CPU that is not there and a setting that is not one", () => {
    const { probe } = scriptedProbe([[1, 2]]);
    expect(() => choosePlacement("2", probe, 2)).toThrow("--cpu 2 is not auto, none or a CPU in 0..1");
    expect(() => choosePlacement("-1", probe, 2)).toThrow("is not auto, none or a CPU");
    expect(() => choosePlacement("fast", probe, 2)).toThrow("is not auto, none or a CPU");
  });

  it("the command line it builds runs a process on that CPU", () => {
    // taskset is util-linux's, on every Debian system; the pinned process reports its own affinity.
    const [cmd, args] = pinned(0, "grep", ["Cpus_allowed_list", "/proc/self/status"]);
    expect(execFileSync(cmd, args, { encoding: "utf8" })).toMatch(/Cpus_allowed_list:\s+0\n/);
  });
});

// What `npm run bench` sets its figures beside: the CPU its processes are pinned to, the native
// reference (bench/c-buddy.c, gcc -O2) run on that CPU in the same minute, and issue 2's targets
// (each table's line, and with `--runs N` how often each target held).
//
// Why pin: this project's VM has two vCPUs, and they have run at different speeds for minutes at a
// time (2026-11-28, 07:25 UTC, with `taskset`: the C reference's W3 took 15.1 to 16.4 ns per call on
// CPU 0 and 12.0 to 12.2 on CPU 1; JavaScript's W3 pure 20.4 to 21.9 and 14.6 to 14.8). A process
// stays on the CPU it starts on, so an unpinned table mixed rows from both speeds, and a target met on
// one CPU was missed on the other. The bench times a short probe on each CPU (W3 on the plain frame
// stack, which has no allocator in it), pins every process to the fastest, and prints the probe's
// figures, so a reader sees what the machine was doing. `--cpu N` pins to N, `--cpu none` pins nothing.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The CPU every process runs on (null: wherever the OS puts it), and how it was chosen. */
export interface Placement {
  cpu: number | null;
  /** The probe's ns per call on each CPU probed, in the order of the CPU list; empty when no probe ran. */
  probes: number[];
  why: string;
}

/**
 * The CPUs this process may run on, from Linux's /proc/self/status ("Cpus_allowed_list: 0-1",
 * "2,4-5"): a container or a taskset may allow CPUs that are not 0..n-1. Null where there is no such
 * file (not Linux): the bench then pins nothing.
 */
export function allowedCpus(status = "/proc/self/status"): number[] | null {
  let text: string;
  try {
    text = readFileSync(status, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const line = /^Cpus_allowed_list:\s*(\S+)$/m.exec(text);
  if (line === null) return null;
  const cpus: number[] = [];
  for (const part of line[1]!.split(",")) {
    const [lo, hi = lo] = part.split("-").map(Number);
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new Error(`bench: cannot read the CPU list "${line[1]}" in ${status}`);
    for (let cpu = lo!; cpu <= hi!; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** True when util-linux's taskset runs here. Only its absence (ENOENT) is an answer; any other error stops the bench. */
function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["--version"], { stdio: "ignore" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** The command line that runs file with args on cpu (or unpinned). */
export function pinned(cpu: number | null, file: string, args: string[]): [string, string[]] {
  return cpu === null ? [file, args] : ["taskset", ["-c", String(cpu), file, ...args]];
}

/**
 * Chooses the CPU from the --cpu setting: "auto" probes each allowed CPU twice, interleaved (the
 * lower of the two counts, since noise only slows a run), and takes the fastest; a number pins to
 * that CPU; "none" pins nothing. probe(cpu) returns the probe's ns per call with its process pinned
 * to cpu; cpus lists the CPUs to choose from (allowedCpus, or null where there is no list).
 */
export function choosePlacement(setting: string, probe: (cpu: number) => number, cpus = allowedCpus()): Placement {
  if (setting === "none") return { cpu: null, probes: [], why: "unpinned (--cpu none)" };
  if (setting !== "auto") {
    const cpu = Number(setting);
    if (cpus === null) throw new Error("bench: --cpu needs Linux's CPU list (/proc/self/status) and taskset");
    if (!Number.isInteger(cpu) || !cpus.includes(cpu)) throw new Error(`bench: --cpu ${setting} is not auto, none or one of the CPUs allowed here (${cpus.join(", ")})`);
    if (!hasTaskset()) throw new Error("bench: --cpu needs taskset (util-linux), which is not installed");
    return { cpu, probes: [], why: `pinned to CPU ${cpu} (--cpu ${cpu})` };
  }
  if (cpus === null) return { cpu: null, probes: [], why: "unpinned (no CPU list)" };
  if (cpus.length < 2) return { cpu: null, probes: [], why: `not pinned: CPU ${cpus[0]} is the only one allowed` };
  if (!hasTaskset()) return { cpu: null, probes: [], why: "unpinned (no taskset)" };
  const probes = cpus.map(() => Infinity);
  for (let round = 0; round < 2; round++) cpus.forEach((cpu, i) => (probes[i] = Math.min(probes[i]!, probe(cpu))));
  const cpu = cpus[probes.indexOf(Math.min(...probes))]!;
  const list = probes.map((ns, i) => `CPU ${cpus[i]} ${ns.toFixed(2)}`).join(", ");
  return { cpu, probes, why: `pinned to CPU ${cpu}, the fastest by the probe (W3 on the plain stack, ns per call: ${list})` };
}

/** One row of the native reference's --json table. */
export interface NativeRow {
  workload: string;
  median: number;
  min: number;
  max: number;
}

/**
 * Compiles bench/c-buddy.c with gcc -O2 and runs it on the placement's CPU. Returns its rows by
 * workload, or a reason when it cannot run here (no gcc, or the source is not beside dist/, as in an
 * installed package). A compile error or a failing run stops the bench: that is our bug.
 */
export function runNative(placement: Placement): { rows: Map<string, NativeRow> } | { missing: string } {
  const source = fileURLToPath(new URL("../../bench/c-buddy.c", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "buddy86-bench-c-"));
  try {
    const exe = join(dir, "c-buddy");
    try {
      execFileSync("gcc", ["-O2", "-Wall", "-o", exe, source], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
      if (err.code === "ENOENT") return { missing: "no gcc" };
      if (String(err.stderr ?? "").includes("No such file")) return { missing: `no ${source}` };
      throw e;
    }
    const [cmd, args] = pinned(placement.cpu, exe, ["--json"]);
    const table = JSON.parse(execFileSync(cmd, args, { encoding: "utf8" })) as { rows: NativeRow[] };
    return { rows: new Map(table.rows.map((r) => [r.workload, r])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Issue 2's targets, median ns per call: W1 and W1b with the per-CPU cache, W2 and W3 pure buddy. */
export const TARGETS = [
  { workload: "W1", mode: "pcp", max: 10 },
  { workload: "W1b", mode: "pcp", max: 5 },
  { workload: "W2", mode: "pure", max: 25 },
  { workload: "W3", mode: "pure", max: 15 },
] as const;

/** What the targets read of a table's row: its median, and C's median beside a pure row (or null). */
export interface TargetRow {
  workload: string;
  mode: string;
  median: number;
  native: number | null;
}

function rowOf(table: readonly TargetRow[], t: (typeof TARGETS)[number]): TargetRow {
  const row = table.find((r) => r.workload === t.workload && r.mode === t.mode);
  if (row === undefined) throw new Error(`bench: no ${t.workload} ${t.mode} row to hold against its target`);
  return row;
}

/** Whether every target held in one table. */
function allMet(table: readonly TargetRow[]): boolean {
  return TARGETS.every((t) => rowOf(table, t).median <= t.max);
}

/** One table against the targets: each target's median and whether it held, then "all met" or not. */
export function targetLine(table: readonly TargetRow[]): string {
  const cells = TARGETS.map((t) => {
    const m = rowOf(table, t).median;
    return `${t.workload} ${t.mode} ${m.toFixed(2)} ${m <= t.max ? "<=" : "> "} ${t.max}`;
  });
  return `targets (median ns per call): ${cells.join(", ")}: ${allMet(table) ? "all met" : "not all met"}`;
}

/**
 * Several runs' tables (`--runs N`) against the targets: how many runs met each, with its medians'
 * range, W3 pure's range as a multiple of C's W3 in the same run, and how many met all at once.
 */
export function targetSummary(tables: readonly (readonly TargetRow[])[]): string[] {
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)} to ${Math.max(...xs).toFixed(2)}`;
  const lines = TARGETS.map((t) => {
    const medians = tables.map((table) => rowOf(table, t).median);
    return `${t.workload} ${t.mode} <= ${t.max}: met in ${medians.filter((m) => m <= t.max).length} of ${tables.length} runs (medians ${range(medians)})`;
  });
  const w3Target = TARGETS.find((t) => t.workload === "W3")!;
  const w3 = tables.map((table) => rowOf(table, w3Target)).filter((r) => r.native !== null);
  if (w3.length > 0) lines.push(`W3 pure against C's W3 in the same run: ${range(w3.map((r) => r.median / r.native!))} times`);
  const all = tables.filter(allMet).length;
  lines.push(`all four targets met together in ${all} of ${tables.length} runs`);
  return lines;
}

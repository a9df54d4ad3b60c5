// `npm run bench`: the allocator's hot paths in ns per call (each alloc and each free is a call) on a
// 1 GiB pool (262,144 frames), beside the same workload on a plain Int32Array free-frame stack in the
// same process, the physical limit of a JS page allocator. 1 warm-up, then median/min/max of 5 reps;
// --json prints one line. The workloads are in bench-loops.ts; this file places and runs them.

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { BuddyAllocator } from "../mem/index.js";
import { FRAMES, REPS, WORKLOADS, makeSource, type Measurement } from "./bench-loops.js";
import { choosePlacement, pinned, runNative, targetLine, targetSummary, type TargetRow } from "./reference.js";

/**
 * One measurement in a module instance of bench-loops of its own for this page source (see there):
 * the built bench-loops.js beside this file, under a URL per source.
 */
async function measureIn(kind: string, workload: string, reps: number): Promise<Measurement> {
  const loops = (await import(new URL(`./bench-loops.js?source=${kind}`, import.meta.url).href)) as typeof import("./bench-loops.js");
  return loops.measure(kind, loops.WORKLOADS[workload]!, reps);
}

/**
 * One (workload, source) measurement in a child process on `cpu`; with `withStack`, the plain frame
 * stack's measurement of the same workload follows in the same process (`stack`). A process per row
 * keeps one row's JIT state out of the next.
 */
function runChild(cpu: number | null, workload: string, kind: string, withStack = false): Measurement & { stack?: Measurement } {
  const [cmd, args] = pinned(cpu, process.execPath, [fileURLToPath(import.meta.url), "--one", workload, kind, ...(withStack ? ["--with-stack"] : [])]);
  return JSON.parse(execFileSync(cmd, args, { encoding: "utf8" })) as Measurement & { stack?: Measurement };
}

const { values: opts, positionals } = parseArgs({
  options: {
    one: { type: "boolean", default: false }, // --one WORKLOAD KIND: one measurement, as runChild makes it
    reps: { type: "string" }, // with --one, for profiling only (docs/architecture.md, Performance)
    "with-stack": { type: "boolean", default: false }, // with --one: the plain stack's measurement after, in this process
    json: { type: "boolean", default: false },
    cpu: { type: "string", default: "auto" }, // auto, none or a CPU number (reference.ts)
    native: { type: "string", default: "auto" }, // auto: the C reference beside the pure rows; off
    runs: { type: "string", default: "1" }, // tables one after the other, then how often each target held
  },
  allowPositionals: true,
});
if (opts.one) {
  const reps = opts.reps === undefined ? REPS : Number(opts.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench: --reps ${opts.reps} is not a positive integer`);
  const [workload = "", kind = ""] = positionals;
  if (WORKLOADS[workload] === undefined || !["pure", "pcp", "stack"].includes(kind)) throw new Error(`bench: --one takes a workload (${Object.keys(WORKLOADS).join(", ")}) and pure, pcp or stack`);
  // The source's row first, then the stack's: the rows that carry targets never follow another
  // measurement in their process.
  const result: Measurement & { stack?: Measurement } = await measureIn(kind, workload, reps);
  if (opts["with-stack"]) result.stack = await measureIn("stack", workload, reps);
  process.stdout.write(JSON.stringify(result));
} else {
  if (opts.native !== "auto" && opts.native !== "off") throw new Error(`bench: --native ${opts.native} is not auto or off`);
  const runs = Number(opts.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bench: --runs ${opts.runs} is not a positive integer`);
  // The tables are for people: with --json they go to stderr, and stdout has one JSON line per table.
  const say = opts.json ? console.error : console.log;
  const tables: TargetRow[][] = [];
  for (let run = 0; run < runs; run++) {
    if (run > 0) say("");
    tables.push(table(opts.cpu, opts.native === "auto", opts.json, say));
  }
  if (runs > 1) {
    say("");
    for (const line of targetSummary(tables)) say(line);
  }
}

/**
 * One table: the CPU chosen afresh, the C reference, then every (workload, mode) row with its plain
 * stack. Prints it with `say`, and its JSON line on stdout with `json`; returns its rows.
 */
function table(cpuSetting: string, withNative: boolean, json: boolean, say: (line: string) => void): TargetRow[] {
  const placement = choosePlacement(cpuSetting, (cpu) => runChild(cpu, "W3", "stack").median);
  // The C reference first, on the same CPU: the pure rows' figures beside native code (the C buddy
  // has no per-CPU cache, so it answers for the pure rows only).
  const native = withNative ? runNative(placement) : { missing: "--native off" };
  const nativeRows = "rows" in native ? native.rows : null;
  const rows: (TargetRow & Record<string, unknown>)[] = [];
  // Issue 2's other figure: host metadata per managed frame (at most 12), of the pool the rows use.
  const pool = makeSource("pure") as BuddyAllocator;
  const metadataPerFrame = pool.metadataBytes / pool.managedPageCount;
  say(`buddy86 bench: ${FRAMES} frames, median/min/max of ${REPS} reps after 1 warm-up, ns per call; ${placement.why}`);
  say(`metadata: ${metadataPerFrame.toFixed(4)} bytes per managed frame (${pool.metadataBytes} bytes for ${pool.managedPageCount} frames)`);
  say(nativeRows !== null ? "C: bench/c-buddy.c (gcc -O2, pure buddy) on the same CPU just before" : `C reference not run (${"missing" in native ? native.missing : ""})`);
  for (const mode of ["pure", "pcp"]) {
    for (const name of Object.keys(WORKLOADS)) {
      const { stack, ...buddy } = runChild(placement.cpu, name, mode, true);
      if (stack === undefined) throw new Error(`bench: the ${name} ${mode} process measured no stack`);
      const c = mode === "pure" ? (nativeRows?.get(name)?.median ?? null) : null;
      const row = { workload: name, mode, ...buddy, stack: stack.median, ratio: buddy.median / stack.median, native: c };
      rows.push(row);
      say(
        `${name.padEnd(4)} ${mode.padEnd(5)} median ${buddy.median.toFixed(2).padStart(6)}  min ${buddy.min.toFixed(2).padStart(6)}  max ${buddy.max.toFixed(2).padStart(6)}` +
          `  | stack ${stack.median.toFixed(2).padStart(5)}  ratio ${row.ratio.toFixed(2).padStart(5)}  | failures ${String(buddy.failures).padStart(2)}` +
          (c === null ? "" : `  | C ${c.toFixed(2).padStart(5)}`),
      );
    }
  }
  if (json) {
    const nativeMissing = "missing" in native ? native.missing : null;
    console.log(JSON.stringify({ schema: 1, frames: FRAMES, reps: REPS, unit: "ns/call", metadataBytesPerFrame: metadataPerFrame, cpu: placement.cpu, probes: placement.probes, nativeMissing, rows }));
  }
  say(targetLine(rows));
  return rows;
}

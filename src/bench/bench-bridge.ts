// `npm run bench:bridge`: what one page costs through the hypercall port. The bundled guest's churn
// loop (get_free_page; free_page) runs `ops` times through single calls and through BATCH (64 records
// per call), each against the real allocator and against the bridge's trivial handler (the bare cost
// of the transport: v86's `in`, the port dispatch, the register reads and writes). Also the time a
// 128 MiB guest takes from runMachine() to its first allocation. Not a test: it prints numbers.
//
// Each mode gets a warm-up boot, then `reps` measured boots, interleaved across modes so that machine
// noise hits every mode alike; the report gives the median with min..max. v86 compiles guest code as
// it gets hot, anew in every boot, so each boot first runs `warmup` ops (guest cmdline warmup=; timed
// too, the "first ops of a boot" column) and then the `ops` that count. Loops are timed on the host
// between the guest's MARK("warmup:NAME"), MARK("phase:NAME") and EXIT, seen as boot-log lines (a
// per-call observer would add its own cost to every call), in wall time and, on Linux, in CPU time
// of the thread running v86 (/proc/thread-self/schedstat), which other processes on a busy machine
// do not inflate: the targets are judged on CPU time when it exists. --json prints one JSON line.

import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { nodePlatform, readBytes, resolveV86Wasm } from "../host/node-platform.js";
import { runMachine, type BridgeObserver } from "../machine/index.js";
import { Cmd } from "../protocol/abi.js";
import { GUEST_IMAGE, bundledImage } from "../cli/images.js";
import { medianMinMax } from "./workloads.js";

const MiB = 2 ** 20;
const TIMEOUT_MS = 600_000;

/** The issue's targets. */
const TARGET_SINGLE_OVER_BARE = 2;
const TARGET_BATCH_NS_PER_PAGE = 25;
const TARGET_BOOT_MS = 100;

interface Settings {
  /** v86.wasm compiled once (MachineOptions.wasmModule), for every boot but the default-boot timings. */
  wasmModule: WebAssembly.Module;
  ops: number;
  warmup: number;
  reps: number;
  memoryBytes: number;
  json: boolean;
}

/** One measured loop. */
interface Mode {
  key: "single" | "bareSingle" | "batch" | "bareBatch";
  label: string;
  workload: "churn" | "batchchurn";
  bare: boolean;
}

const MODES: readonly Mode[] = [
  { key: "single", label: "single calls", workload: "churn", bare: false },
  { key: "bareSingle", label: "bare transport, single calls", workload: "churn", bare: true },
  { key: "batch", label: "BATCH, 64 records per call", workload: "batchchurn", bare: false },
  { key: "bareBatch", label: "bare transport, BATCH", workload: "batchchurn", bare: true },
];

interface Stats {
  median: number;
  min: number;
  max: number;
}

function parseArgs(argv: string[], wasmModule: WebAssembly.Module): Settings {
  const settings: Settings = { wasmModule, ops: 1_000_000, warmup: 200_000, reps: 5, memoryBytes: 128 * MiB, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (min = 1): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < min) throw new Error(`bench-bridge: ${arg} needs an integer >= ${min}`);
      return n;
    };
    if (arg === "--json") settings.json = true;
    else if (arg === "--ops") settings.ops = value();
    else if (arg === "--reps") settings.reps = value();
    else if (arg === "--warmup") settings.warmup = value(0); // 0: time each boot's first ops (no warmup= run)
    else if (arg === "--memory-mib") settings.memoryBytes = value() * MiB;
    else throw new Error(`bench-bridge: unknown option ${arg} (use --ops N, --warmup N, --reps N, --memory-mib N, --json)`);
  }
  return settings;
}

const SCHEDSTAT = "/proc/thread-self/schedstat";
const haveSchedstat = existsSync(SCHEDSTAT);

/** ns this thread has run on a CPU, and ns it waited for one (Linux schedstat), or NaN elsewhere. */
function threadTimes(): { runNs: number; waitNs: number } {
  if (!haveSchedstat) return { runNs: NaN, waitNs: NaN };
  const [run, wait] = readFileSync(SCHEDSTAT, "utf8").split(" ");
  return { runNs: Number(run), waitNs: Number(wait) };
}

/** One timed loop: wall ms, ms on a CPU and ms waiting for one (NaN without schedstat). */
interface LoopTime {
  wallMs: number;
  cpuMs: number;
  waitMs: number;
  /** The warm-up run before it, the first ops of the boot: wall and CPU ms. */
  coldWallMs: number;
  coldCpuMs: number;
}

/**
 * Boots the guest with `workload=NAME ops=N warmup=W` and times the warm-up run, from its
 * MARK("warmup:NAME") to MARK("phase:NAME"), and the real one, from there to EXIT. Throws, with the
 * guest's log, unless the guest EXITed 0.
 */
async function timeLoop(kernel: Uint8Array, mode: Mode, settings: Settings): Promise<LoopTime> {
  let cold = -1;
  let start = -1;
  let end = -1;
  let tc = threadTimes();
  let t0 = tc;
  let t1 = tc;
  const warm = `mark: "warmup:${mode.workload}"`;
  const phase = `mark: "phase:${mode.workload}"`;
  const { ops, warmup, memoryBytes } = settings;
  const result = await runMachine({
    kernel,
    platform: nodePlatform(),
    memoryBytes,
    cmdline: `workload=${mode.workload} ops=${ops}${warmup > 0 ? ` warmup=${warmup}` : ""}`,
    timeoutMs: TIMEOUT_MS,
    bareTransport: mode.bare,
    wasmModule: settings.wasmModule,
    onBootLogLine: (line) => {
      if (line.startsWith(warm)) {
        tc = threadTimes();
        cold = performance.now();
      } else if (line.startsWith(phase)) {
        t0 = threadTimes();
        start = performance.now();
      } else if (line.startsWith("guest EXIT(")) {
        end = performance.now();
        t1 = threadTimes();
      }
    },
  });
  if (result.reason !== "exit" || result.exitCode !== 0 || (warmup > 0 && cold < 0) || start < 0 || end < 0) {
    throw new Error(`bench-bridge: ${mode.label} did not pass: ${result.message}\n${result.guestLog}`);
  }
  return {
    wallMs: end - start,
    cpuMs: (t1.runNs - t0.runNs) / 1e6,
    waitMs: (t1.waitNs - t0.waitNs) / 1e6,
    coldWallMs: warmup > 0 ? start - cold : NaN,
    coldCpuMs: warmup > 0 ? (t0.runNs - tc.runNs) / 1e6 : NaN,
  };
}

/**
 * Milestones of one boot in ms since runMachine() was called: v86 constructed (its wasm instantiated,
 * its devices built, the kernel loaded: the bridge is created then and attaches the observer), the
 * guest's HELLO, its first ALLOC_PAGES; and the v86 thread's CPU ms to that allocation.
 */
interface BootTimes {
  constructed: number;
  hello: number;
  firstAlloc: number;
  firstAllocCpu: number;
}

/**
 * Boots a guest that allocates one page and times runMachine() -> HELLO -> the first ALLOC_PAGES,
 * with v86 reading and compiling its wasm as usual, or instantiating `wasmModule`.
 */
async function timeBoot(kernel: Uint8Array, memoryBytes: number, wasmModule: WebAssembly.Module | null): Promise<BootTimes> {
  const times: BootTimes = { constructed: -1, hello: -1, firstAlloc: -1, firstAllocCpu: NaN };
  let t0 = 0;
  let c0 = threadTimes();
  // One observer call per hypercall is fine here: the guest makes a few dozen before its first alloc.
  const observer: BridgeObserver = {
    attach() {
      times.constructed = performance.now() - t0;
    },
    onCall(_seq, cmd) {
      if (cmd === Cmd.HELLO && times.hello < 0) times.hello = performance.now() - t0;
      else if (cmd === Cmd.ALLOC_PAGES && times.firstAlloc < 0) {
        times.firstAlloc = performance.now() - t0;
        times.firstAllocCpu = (threadTimes().runNs - c0.runNs) / 1e6;
      }
    },
  };
  c0 = threadTimes();
  t0 = performance.now();
  const result = await runMachine({
    kernel,
    platform: nodePlatform(),
    memoryBytes,
    cmdline: "workload=churn ops=1",
    observer,
    timeoutMs: TIMEOUT_MS,
    ...(wasmModule !== null ? { wasmModule } : {}),
  });
  if (result.exitCode !== 0 || times.firstAlloc < 0) throw new Error(`bench-bridge: the boot run did not pass: ${result.message}`);
  return times;
}

function stats(values: number[]): Stats {
  const { median, min, max } = medianMinMax(values);
  return { median, min, max };
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const range = (s: Stats, digits = 1): string => `${fmt(s.median, digits)} (${fmt(s.min, digits)}..${fmt(s.max, digits)})`;

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2), await WebAssembly.compile(readFileSync(resolveV86Wasm())));
  const kernel = readBytes(bundledImage(GUEST_IMAGE));
  const loadBefore = loadavg()[0]!;
  const log = (text: string): void => {
    if (!settings.json) process.stderr.write(text);
  };

  // Warm-up: one boot of every mode (and of the boot run) before anything is timed.
  log("warming up");
  for (const mode of MODES) {
    await timeLoop(kernel, mode, settings);
    log(".");
  }
  await timeBoot(kernel, settings.memoryBytes, null);
  await timeBoot(kernel, settings.memoryBytes, settings.wasmModule);
  log("\nmeasuring");

  const loops: Record<Mode["key"], LoopTime[]> = { single: [], bareSingle: [], batch: [], bareBatch: [] };
  const boots: BootTimes[] = [];
  const cachedBoots: BootTimes[] = [];
  for (let rep = 0; rep < settings.reps; rep++) {
    for (const mode of MODES) loops[mode.key].push(await timeLoop(kernel, mode, settings));
    boots.push(await timeBoot(kernel, settings.memoryBytes, null));
    cachedBoots.push(await timeBoot(kernel, settings.memoryBytes, settings.wasmModule));
    log(".");
  }
  log("\n");
  const loadAfter = loadavg()[0]!;

  const perPageOf = (pick: (t: LoopTime) => number, pages = settings.ops): Record<Mode["key"], Stats> => {
    const of = (key: Mode["key"]): Stats => stats(loops[key].map((t) => (pick(t) * 1e6) / pages));
    return { single: of("single"), bareSingle: of("bareSingle"), batch: of("batch"), bareBatch: of("bareBatch") };
  };
  const wall = perPageOf((t) => t.wallMs);
  const cpu = haveSchedstat ? perPageOf((t) => t.cpuMs) : null;
  const cold = haveSchedstat ? perPageOf((t) => t.coldCpuMs, settings.warmup) : perPageOf((t) => t.coldWallMs, settings.warmup);
  // Judged on CPU time when the machine tells it: the wall time of a busy machine measures its load.
  const perPage = cpu ?? wall;
  const waitShare = haveSchedstat ? sum(MODES.flatMap((m) => loops[m.key].map((t) => t.waitMs))) / sum(MODES.flatMap((m) => loops[m.key].map((t) => t.wallMs))) : NaN;
  const ratios = {
    singleOverBare: perPage.single.median / perPage.bareSingle.median,
    batchOverBareBatch: perPage.batch.median / perPage.bareBatch.median,
    singleOverBatch: perPage.single.median / perPage.batch.median,
  };
  const bootStats = (list: BootTimes[]): { constructed: Stats; hello: Stats; firstAlloc: Stats; fromConstructed: Stats; firstAllocCpu: Stats } => ({
    constructed: stats(list.map((b) => b.constructed)),
    fromConstructed: stats(list.map((b) => b.firstAlloc - b.constructed)),
    hello: stats(list.map((b) => b.hello)),
    firstAlloc: stats(list.map((b) => b.firstAlloc)),
    firstAllocCpu: stats(list.map((b) => b.firstAllocCpu)),
  });
  const boot = bootStats(boots);
  const cachedBoot = bootStats(cachedBoots);
  const targets = {
    singleOverBare: ratios.singleOverBare <= TARGET_SINGLE_OVER_BARE,
    batchNsPerPage: perPage.batch.median <= TARGET_BATCH_NS_PER_PAGE,
    constructedToFirstAllocMs: boot.fromConstructed.median <= TARGET_BOOT_MS,
    runMachineToFirstAllocMs: boot.firstAlloc.median <= TARGET_BOOT_MS,
    runMachineToFirstAllocMsPrecompiled: cachedBoot.firstAlloc.median <= TARGET_BOOT_MS,
  };
  const report = {
    schema: "buddy86-bench-bridge/1",
    ops: settings.ops,
    reps: settings.reps,
    memoryBytes: settings.memoryBytes,
    node: process.version,
    judgedOn: cpu !== null ? "cpu" : "wall",
    warmup: settings.warmup,
    nsPerPage: { wall, cpu, cold },
    ratios,
    bootMs: { default: boot, precompiledWasm: cachedBoot },
    targets,
    loadavg: { before: loadBefore, after: loadAfter },
    runQueueWaitShare: waitShare,
  };
  if (settings.json) {
    console.log(JSON.stringify(report));
    return;
  }
  const pass = (ok: boolean): string => (ok ? "met" : "MISSED");
  const lines = [
    `buddy86 bridge benchmark: churn (alloc + free of one page) x ${settings.ops.toLocaleString("en-US")} after ${settings.warmup.toLocaleString("en-US")} ` +
      `in the same boot, ${settings.memoryBytes / MiB} MiB guest, median (min..max) of ${settings.reps} boots after a warm-up boot, Node ${process.version}`,
    "",
    `| mode | ns per page, wall | ns per page, on CPU | first ${settings.warmup.toLocaleString("en-US")} of a boot, ${cpu !== null ? "on CPU" : "wall"} |`,
    "|---|---|---|---|",
    ...MODES.map((m) => `| ${m.label} | ${range(wall[m.key])} | ${cpu !== null ? range(cpu[m.key]) : "n/a"} | ${settings.warmup > 0 ? range(cold[m.key]) : "n/a"} |`),
    "",
    `ratios and targets on ${cpu !== null ? "CPU time (main thread)" : "wall time"}:`,
    `single / bare single:   ${fmt(ratios.singleOverBare, 2)}x   (target <= ${TARGET_SINGLE_OVER_BARE}x: ${pass(targets.singleOverBare)})`,
    `BATCH:                  ${fmt(perPage.batch.median)} ns per page (target <= ${TARGET_BATCH_NS_PER_PAGE} ns: ${pass(targets.batchNsPerPage)})`,
    `BATCH / bare BATCH:     ${fmt(ratios.batchOverBareBatch, 2)}x`,
    `single / BATCH:         ${fmt(ratios.singleOverBatch, 2)}x`,
    `boot of a ${settings.memoryBytes / MiB} MiB guest, wall ms (target: <= ${TARGET_BOOT_MS} ms from a constructed emulator to the first allocation):`,
    `  constructed emulator -> first ALLOC_PAGES: ${range(boot.fromConstructed)} (${pass(targets.constructedToFirstAllocMs)})`,
    `  runMachine() -> constructed ${range(boot.constructed)} -> HELLO ${range(boot.hello)} -> first ALLOC_PAGES ${range(boot.firstAlloc)} ` +
      `(${pass(targets.runMachineToFirstAllocMs)}; v86 thread on CPU ${range(boot.firstAllocCpu)})`,
    `  the same with a precompiled v86.wasm (wasmModule): constructed ${range(cachedBoot.constructed)} -> first ALLOC_PAGES ${range(cachedBoot.firstAlloc)} ` +
      `(${pass(targets.runMachineToFirstAllocMsPrecompiled)}; v86 thread on CPU ${range(cachedBoot.firstAllocCpu)})`,
    `noise: load average ${fmt(loadBefore, 2)} before, ${fmt(loadAfter, 2)} after; ` +
      `the loops waited for a CPU ${Number.isNaN(waitShare) ? "(unknown)" : `${fmt(100 * waitShare)}% of their wall time`}`,
  ];
  console.log(lines.join("\n"));
}

await main();

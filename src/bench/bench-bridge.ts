// `npm run bench:bridge`: what one page costs through the hypercall port. The bundled guest's churn
// loop (get_free_page; free_page) runs `ops` times through single calls and through BATCH (64 records
// per call), each against the real allocator and against the bridge's trivial handler (the bare cost
// of the transport: v86's `in`, the port dispatch, the register reads and writes). Also the time a
// 128 MiB guest takes from runMachine() to its first allocation. Not a test: it prints numbers.
//
// Each mode gets a warm-up boot, then `reps` measured boots, interleaved across modes so that machine
// noise hits every mode alike; the report gives the median with min..max. A loop is timed on the
// host from the guest's MARK("phase:NAME") to its EXIT, both seen as boot-log lines (no per-call
// observer: an observer would add its own cost to every call), in wall time and, on Linux, in the
// CPU time of the thread running v86 (/proc/thread-self/schedstat), which other processes on a
// busy machine do not inflate; the targets are judged on the latter when it exists. --json prints
// one JSON line.

import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { nodePlatform, readBytes } from "../host/node-platform.js";
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
  ops: number;
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

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { ops: 1_000_000, reps: 5, memoryBytes: 128 * MiB, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench-bridge: ${arg} needs a positive integer`);
      return n;
    };
    if (arg === "--json") settings.json = true;
    else if (arg === "--ops") settings.ops = value();
    else if (arg === "--reps") settings.reps = value();
    else if (arg === "--memory-mib") settings.memoryBytes = value() * MiB;
    else throw new Error(`bench-bridge: unknown option ${arg} (use --ops N, --reps N, --memory-mib N, --json)`);
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
}

/**
 * Boots the guest with `workload=NAME ops=N` and times it from its MARK("phase:NAME") to its EXIT.
 * Throws, with the guest's log, unless the guest EXITed 0.
 */
async function timeLoop(kernel: Uint8Array, mode: Mode, ops: number, memoryBytes: number): Promise<LoopTime> {
  let start = -1;
  let end = -1;
  let t0 = threadTimes();
  let t1 = t0;
  const phase = `mark: "phase:${mode.workload}"`;
  const result = await runMachine({
    kernel,
    platform: nodePlatform(),
    memoryBytes,
    cmdline: `workload=${mode.workload} ops=${ops}`,
    timeoutMs: TIMEOUT_MS,
    bareTransport: mode.bare,
    onBootLogLine: (line) => {
      if (line.startsWith(phase)) {
        t0 = threadTimes();
        start = performance.now();
      } else if (line.startsWith("guest EXIT(")) {
        end = performance.now();
        t1 = threadTimes();
      }
    },
  });
  if (result.reason !== "exit" || result.exitCode !== 0 || start < 0 || end < 0) {
    throw new Error(`bench-bridge: ${mode.label} did not pass: ${result.message}\n${result.guestLog}`);
  }
  return { wallMs: end - start, cpuMs: (t1.runNs - t0.runNs) / 1e6, waitMs: (t1.waitNs - t0.waitNs) / 1e6 };
}

/** Milestones of one boot, in ms since runMachine() was called. */
interface BootTimes {
  hello: number;
  firstAlloc: number;
}

/** Boots a guest that allocates one page and times runMachine() -> HELLO -> the first ALLOC_PAGES. */
async function timeBoot(kernel: Uint8Array, memoryBytes: number): Promise<BootTimes> {
  const times: BootTimes = { hello: -1, firstAlloc: -1 };
  let t0 = 0;
  // One observer call per hypercall is fine here: the guest makes a few dozen before its first alloc.
  const observer: BridgeObserver = {
    onCall(_seq, cmd) {
      if (cmd === Cmd.HELLO && times.hello < 0) times.hello = performance.now() - t0;
      else if (cmd === Cmd.ALLOC_PAGES && times.firstAlloc < 0) times.firstAlloc = performance.now() - t0;
    },
  };
  t0 = performance.now();
  const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes, cmdline: "workload=churn ops=1", observer, timeoutMs: TIMEOUT_MS });
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
  const settings = parseArgs(process.argv.slice(2));
  const kernel = readBytes(bundledImage(GUEST_IMAGE));
  const loadBefore = loadavg()[0]!;
  const log = (text: string): void => {
    if (!settings.json) process.stderr.write(text);
  };

  // Warm-up: one boot of every mode (and of the boot run) before anything is timed.
  log("warming up");
  for (const mode of MODES) {
    await timeLoop(kernel, mode, settings.ops, settings.memoryBytes);
    log(".");
  }
  await timeBoot(kernel, settings.memoryBytes);
  log("\nmeasuring");

  const loops: Record<Mode["key"], LoopTime[]> = { single: [], bareSingle: [], batch: [], bareBatch: [] };
  const boots: BootTimes[] = [];
  for (let rep = 0; rep < settings.reps; rep++) {
    for (const mode of MODES) loops[mode.key].push(await timeLoop(kernel, mode, settings.ops, settings.memoryBytes));
    boots.push(await timeBoot(kernel, settings.memoryBytes));
    log(".");
  }
  log("\n");
  const loadAfter = loadavg()[0]!;

  const perPageOf = (pick: (t: LoopTime) => number): Record<Mode["key"], Stats> => {
    const of = (key: Mode["key"]): Stats => stats(loops[key].map((t) => (pick(t) * 1e6) / settings.ops));
    return { single: of("single"), bareSingle: of("bareSingle"), batch: of("batch"), bareBatch: of("bareBatch") };
  };
  const wall = perPageOf((t) => t.wallMs);
  const cpu = haveSchedstat ? perPageOf((t) => t.cpuMs) : null;
  // Judged on CPU time when the machine tells it: the wall time of a busy machine measures its load.
  const perPage = cpu ?? wall;
  const waitShare = haveSchedstat ? sum(MODES.flatMap((m) => loops[m.key].map((t) => t.waitMs))) / sum(MODES.flatMap((m) => loops[m.key].map((t) => t.wallMs))) : NaN;
  const ratios = {
    singleOverBare: perPage.single.median / perPage.bareSingle.median,
    batchOverBareBatch: perPage.batch.median / perPage.bareBatch.median,
    singleOverBatch: perPage.single.median / perPage.batch.median,
  };
  const boot = { hello: stats(boots.map((b) => b.hello)), firstAlloc: stats(boots.map((b) => b.firstAlloc)) };
  const targets = {
    singleOverBare: ratios.singleOverBare <= TARGET_SINGLE_OVER_BARE,
    batchNsPerPage: perPage.batch.median <= TARGET_BATCH_NS_PER_PAGE,
    bootToFirstAllocMs: boot.firstAlloc.median <= TARGET_BOOT_MS,
  };
  const report = {
    schema: "buddy86-bench-bridge/1",
    ops: settings.ops,
    reps: settings.reps,
    memoryBytes: settings.memoryBytes,
    node: process.version,
    judgedOn: cpu !== null ? "cpu" : "wall",
    nsPerPage: { wall, cpu },
    ratios,
    bootMs: boot,
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
    `buddy86 bridge benchmark: churn (alloc + free of one page) x ${settings.ops.toLocaleString("en-US")}, ${settings.memoryBytes / MiB} MiB guest, ` +
      `median (min..max) of ${settings.reps} after a warm-up, Node ${process.version}`,
    "",
    "| mode | ns per page, wall | ns per page, on CPU |",
    "|---|---|---|",
    ...MODES.map((m) => `| ${m.label} | ${range(wall[m.key])} | ${cpu !== null ? range(cpu[m.key]) : "n/a"} |`),
    "",
    `ratios and targets on ${cpu !== null ? "CPU time (main thread)" : "wall time"}:`,
    `single / bare single:   ${fmt(ratios.singleOverBare, 2)}x   (target <= ${TARGET_SINGLE_OVER_BARE}x: ${pass(targets.singleOverBare)})`,
    `BATCH:                  ${fmt(perPage.batch.median)} ns per page (target <= ${TARGET_BATCH_NS_PER_PAGE} ns: ${pass(targets.batchNsPerPage)})`,
    `BATCH / bare BATCH:     ${fmt(ratios.batchOverBareBatch, 2)}x`,
    `single / BATCH:         ${fmt(ratios.singleOverBatch, 2)}x`,
    `boot, runMachine() -> HELLO ${range(boot.hello)} ms -> first ALLOC_PAGES ${range(boot.firstAlloc)} ms ` +
      `(target <= ${TARGET_BOOT_MS} ms: ${pass(targets.bootToFirstAllocMs)})`,
    `noise: load average ${fmt(loadBefore, 2)} before, ${fmt(loadAfter, 2)} after; ` +
      `the loops waited for a CPU ${Number.isNaN(waitShare) ? "(unknown)" : `${fmt(100 * waitShare)}% of their wall time`}`,
  ];
  console.log(lines.join("\n"));
}

await main();

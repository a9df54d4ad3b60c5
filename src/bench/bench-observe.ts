// `npm run bench:observe`: what watching the allocator costs per hypercall, without the emulator. A
// HypercallBridge over a plain 128 MiB RAM array serves a guest loop (churn: get_free_page then
// free_page; random: the W3 stream of orders 0..10 with frees of random live blocks) from a fake CPU
// whose stack holds a frame-pointer chain of STACK_DEPTH return addresses inside the bundled guest's
// code, so every observed call walks a real-looking backtrace. Observers, each in its own process:
//   none     no observer (the CLI's plain path)
//   hub      the EventHub alone (EIP and instruction counter sampled per call)
//   stacks   the hub and a backtrace per allocation and free, nothing kept: the least that any
//            observer naming each block's owner pays inside the port handler (docs/web-speed.md)
//   owners   the CLI's `--owners` path: src/observe's ObserveSession with page owners
//   page     the web page's live run (src/web/live-run.ts): page owner, timeline, event log
// The bridge, the allocator and the guest's loop are the same in every mode, so `mode - none` is the
// observers' own cost. Median/min/max of REPS reps after a warm-up, ns per call; --json prints one
// line. `--one MODE WORKLOAD CALLS` runs one measurement (for callgrind: instructions do not depend on
// the machine's load).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { GUEST_IMAGE, bundledImage } from "../cli/images.js";
import { HypercallBridge, readElf32, type BridgeObserver, type Elf32Image } from "../machine/index.js";
import type { GuestRegisters } from "../machine/bridge.js";
import { ObserveSession } from "../observe/session.js";
import { EventHub } from "../observe/event-hub.js";
import type { EventSubscriber } from "../observe/events.js";
import { KIND_FREE } from "../observe/layout.js";
import { codeRanges } from "../observe/stack-walk.js";
import { Cmd, Status } from "../protocol/abi.js";
import { LiveRun } from "../web/live-run.js";
import { Xorshift32, medianMinMax, w3Order } from "./workloads.js";

const MiB = 2 ** 20;
const RAM_BYTES = 128 * MiB;
const INFO_ADDR = 0x7c00;
const IMAGE_START = 0x100000;
const IMAGE_END = 0x400000;
/** Where the fake stack lives (inside the reserved image range, so no allocation overwrites it). */
const STACK_TOP = 0x3ff000;
const STACK_DEPTH = 6;
const EBP = 5;
const REPS = 5;
const DEFAULT_CALLS = 1_000_000;
const MODES = ["none", "hub", "stacks", "owners", "page"] as const;
const WORKLOADS = ["churn", "random"] as const;
type ModeName = (typeof MODES)[number];
type WorkloadName = (typeof WORKLOADS)[number];

interface FakeCpu extends GuestRegisters {
  eip: number;
  instructionCount: number;
}

/** A booted fake guest: multiboot info with one usable range, MEMMAP done, a stack chain in RAM. */
function bootGuest(observer: EventHub | null, elf: Elf32Image): { bridge: HypercallBridge; cpu: FakeCpu } {
  const ram = new Uint8Array(RAM_BYTES);
  const dv = new DataView(ram.buffer);
  const reg32 = new Int32Array(8);
  // Multiboot info (flags bit 6: a memory map) and a map of [0, 640 KiB) and [1 MiB, RAM_BYTES).
  const mmap = INFO_ADDR + 116;
  const entries = [
    [0, 0xa0000],
    [0x100000, RAM_BYTES - 0x100000],
  ];
  entries.forEach(([base, length], i) => {
    const p = mmap + 24 * i;
    dv.setUint32(p, 20, true);
    dv.setUint32(p + 4, base!, true);
    dv.setUint32(p + 12, length!, true);
    dv.setUint32(p + 20, 1, true);
  });
  dv.setUint32(INFO_ADDR, 1 << 6, true);
  dv.setUint32(INFO_ADDR + 44, 24 * entries.length, true);
  dv.setUint32(INFO_ADDR + 48, mmap, true);
  // The frame-pointer chain: each frame's saved EBP points at the next one up, its return address
  // lies inside the guest's code; the outermost saved EBP is 0.
  const code = codeRanges(elf)!;
  for (let i = 0; i < STACK_DEPTH; i++) {
    const fp = STACK_TOP - 0x100 + 32 * i;
    dv.setUint32(fp, i === STACK_DEPTH - 1 ? 0 : fp + 32, true);
    dv.setUint32(fp + 4, code[0]! + 0x40 * (i + 1), true);
  }
  reg32[EBP] = STACK_TOP - 0x100;
  // The instruction counter starts where a real guest's soon is, past 2^31 (not a small integer for
  // V8) and about to wrap, so the observers' handling of large counts is what gets measured.
  const cpu: FakeCpu = { reg32, eip: code[0]! + 0x20, instructionCount: 0xf0000000, cr0: 0, cr3: 0, cr4: 0 };
  const bridge = new HypercallBridge({ ram, reg32, kernelElf: elf, observer: observer as BridgeObserver | null });
  observer?.attachGuest(cpu);
  if (bridge.call(Cmd.MEMMAP, INFO_ADDR, IMAGE_START, IMAGE_END).status !== Status.OK) throw new Error("bench-observe: MEMMAP failed");
  return { bridge, cpu };
}

function makeObserver(mode: ModeName, kernel: Uint8Array, elf: Elf32Image): EventHub | null {
  if (mode === "none") return null;
  if (mode === "hub") return new EventHub({ code: codeRanges(elf) });
  if (mode === "stacks") {
    const hub = new EventHub({ code: codeRanges(elf) });
    hub.subscribe(new StackProbe());
    return hub;
  }
  if (mode === "owners") return new ObserveSession({ elf, owners: true }).hub;
  const run = new LiveRun({ kernel, kernelName: GUEST_IMAGE, cmdline: "", memoryBytes: RAM_BYTES, maxOrder: 10, pcp: true, poison: false, pauseAtMark: "", callsPerFrame: 0, wasmUrl: "" });
  return run.hub;
}

/** The `stacks` mode's subscriber: the call's backtrace for each allocation and free, then nothing. */
class StackProbe implements EventSubscriber {
  /** The handles' XOR, kept so that the walks are used. */
  seen = 0;
  readonly blockStacks = true;

  onBlock(code: number, _seq: number, _record: number, _pfn: number, _order: number, _npages: number, _zone: number, _gfp: number, stack: number): void {
    if (code <= KIND_FREE) this.seen ^= stack;
  }
}

/** One guest call, as the CPU makes it: registers in, port read, status out. */
function call(bridge: HypercallBridge, cpu: FakeCpu, cmd: number, arg0: number, arg1: number): number {
  const regs = cpu.reg32;
  regs[0] = cmd;
  regs[3] = arg0;
  regs[1] = arg1;
  cpu.instructionCount = (cpu.instructionCount + 200) >>> 0;
  return bridge.portRead32() >>> 0;
}

/** Runs `calls` hypercalls of a workload; returns the calls made. */
function runWorkload(workload: WorkloadName, bridge: HypercallBridge, cpu: FakeCpu, calls: number): number {
  if (workload === "churn") {
    for (let i = 0; i < calls; i += 2) call(bridge, cpu, Cmd.FREE_PAGES, call(bridge, cpu, Cmd.ALLOC_PAGES, 0, 0), 0);
    return calls;
  }
  const rng = new Xorshift32(2463534242);
  const live = new Float64Array(RAM_BYTES / 4096);
  const orders = new Uint8Array(live.length);
  let count = 0;
  let made = 0;
  while (made < calls) {
    const a = rng.next();
    const b = rng.next();
    made++;
    if (count > 0 && a >>> 31 === 1) {
      const i = Math.floor((b * count) / 2 ** 32);
      call(bridge, cpu, Cmd.FREE_PAGES, live[i]!, orders[i]!);
      count--;
      live[i] = live[count]!;
      orders[i] = orders[count]!;
    } else {
      const order = w3Order(b);
      const addr = call(bridge, cpu, Cmd.ALLOC_PAGES, order, 0);
      if (addr !== 0) {
        live[count] = addr;
        orders[count++] = order;
      }
    }
  }
  for (let i = 0; i < count; i++) call(bridge, cpu, Cmd.FREE_PAGES, live[i]!, orders[i]!);
  return made + count;
}

/** One measurement on a fresh bridge and observer: ns per call, wall clock. */
function measureOnce(mode: ModeName, workload: WorkloadName, calls: number, kernel: Uint8Array, elf: Elf32Image): number {
  const { bridge, cpu } = bootGuest(makeObserver(mode, kernel, elf), elf);
  const t0 = performance.now();
  const made = runWorkload(workload, bridge, cpu, calls);
  const ns = ((performance.now() - t0) * 1e6) / made;
  if (bridge.counters.statuses[Status.OK]! < made / 2) throw new Error(`bench-observe: most calls failed (${mode} ${workload})`);
  return ns;
}

function measure(mode: ModeName, workload: WorkloadName, calls: number, reps: number): ReturnType<typeof medianMinMax> {
  const [kernel, elf] = loadKernel();
  const samples: number[] = [];
  for (let rep = -1; rep < reps; rep++) {
    const ns = measureOnce(mode, workload, calls, kernel, elf);
    if (rep >= 0) samples.push(ns);
  }
  return medianMinMax(samples);
}

const argv = process.argv.slice(2);
if (argv[0] === "--one") {
  const [mode, workload, calls] = [argv[1] as ModeName, argv[2] as WorkloadName, Number(argv[3] ?? DEFAULT_CALLS)];
  if (!MODES.includes(mode) || !WORKLOADS.includes(workload)) throw new Error(`bench-observe: --one MODE WORKLOAD [CALLS] with MODE in ${MODES.join("|")}, WORKLOAD in ${WORKLOADS.join("|")}`);
  process.stdout.write(JSON.stringify(argv.includes("--single") ? { median: measureOnce(mode, workload, calls, ...loadKernel()) } : measure(mode, workload, calls, REPS)));
} else {
  const json = argv.includes("--json");
  const rows: Record<string, unknown>[] = [];
  if (!json) console.log(`buddy86 bench:observe: ${DEFAULT_CALLS} calls on a 128 MiB fake guest, median/min/max of ${REPS} reps after 1 warm-up, ns per call (load ${loadavg()[0]!.toFixed(2)})`);
  for (const workload of WORKLOADS) {
    let base = 0;
    for (const mode of MODES) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--one", mode, workload], { encoding: "utf8" });
      const r = JSON.parse(out) as ReturnType<typeof medianMinMax>;
      if (mode === "none") base = r.median;
      const row = { workload, mode, ...r, overhead: r.median - base };
      rows.push(row);
      if (!json)
        console.log(
          `${workload.padEnd(6)} ${mode.padEnd(6)} median ${r.median.toFixed(1).padStart(6)}  min ${r.min.toFixed(1).padStart(6)}  max ${r.max.toFixed(1).padStart(6)}  | observers add ${row.overhead.toFixed(1).padStart(6)}`,
        );
    }
  }
  if (json) console.log(JSON.stringify({ schema: 1, calls: DEFAULT_CALLS, reps: REPS, unit: "ns/call", load: loadavg()[0], rows }));
}

function loadKernel(): [Uint8Array, Elf32Image] {
  const kernel = new Uint8Array(readFileSync(bundledImage(GUEST_IMAGE)));
  return [kernel, readElf32(kernel)];
}

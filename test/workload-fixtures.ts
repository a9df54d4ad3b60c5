// Booting the bundled guest image (images/buddy86-guest.elf) and judging a run from the host side.
// HostLedger watches every block the bridge hands out and takes back, frame by frame, and checks the
// allocator's contract as the guest cannot: usable RAM only, no reservation, one zone, the zone the
// GFP flags allow, zeroed when GFP_ZERO asked, never a frame owned twice, everything back at the end.
// judge() adds the run's own verdict (EXIT 0, invariants, free count restored) and fails with the
// boot log and the guest's serial transcript.

import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { runMachine, type BridgeObserver, type HypercallBridge, type MachineResult } from "../src/machine/index.js";
import { nodePlatform, resolveV86Wasm } from "../src/host/node-platform.js";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
/** v86's largest RAM, 2 GiB - 128 KiB. */
export const MAX_RAM = 0x7ffe0000;
const PAGE = 4096;
const MAX_FRAMES = 2 ** 19;
const ZONE_DMA_END = 16 * MiB;
const ZONE_NORMAL_END = 896 * MiB;
const GFP_DMA = 0x1;
const GFP_HIGHMEM = 0x2;
const GFP_ZERO = 0x100;
const MAX_PROBLEMS = 20;

/** The four RAM sizes every workload must pass at, with the names tests print. */
export const RAM_SIZES: readonly { name: string; bytes: number }[] = [
  { name: "16 MiB", bytes: 16 * MiB },
  { name: "128 MiB", bytes: 128 * MiB },
  { name: "1 GiB", bytes: GiB },
  { name: "2 GiB - 128 KiB", bytes: MAX_RAM },
];

/** Per-test timeout for a guest run: the 2 GiB runs touch every page, and machines are noisy. */
export const GUEST_TIMEOUT_MS = 300_000;

let guestImage: Uint8Array | null = null;

/** The committed guest image, read once per test file. */
export function guestKernel(): Uint8Array {
  guestImage ??= new Uint8Array(readFileSync(new URL("../images/buddy86-guest.elf", import.meta.url)));
  return guestImage;
}

let v86Module: Promise<WebAssembly.Module> | null = null;

/** v86's wasm, compiled once per test file and given to every boot (MachineOptions.wasmModule). */
export function v86Wasm(): Promise<WebAssembly.Module> {
  v86Module ??= WebAssembly.compile(readFileSync(resolveV86Wasm()));
  return v86Module;
}

/** The zone a byte address belongs to: 0 DMA, 1 Normal, 2 HighMem. */
export function zoneOf(addr: number): number {
  return addr < ZONE_DMA_END ? 0 : addr < ZONE_NORMAL_END ? 1 : 2;
}

/** Calls each observer in turn (the machine takes one). */
export function allObservers(...observers: BridgeObserver[]): BridgeObserver {
  return {
    attach(bridge) {
      for (const o of observers) o.attach?.(bridge);
    },
    onCall(seq, cmd, arg0, arg1, arg2, result, status) {
      for (const o of observers) o.onCall(seq, cmd, arg0, arg1, arg2, result, status);
    },
    onRecord(seq, index, cmd, arg0, arg1, result, status) {
      for (const o of observers) o.onRecord?.(seq, index, cmd, arg0, arg1, result, status);
    },
  };
}

/**
 * Follows every successful ALLOC_PAGES, ALLOC_CONTIG, FREE_PAGES, FREE_CONTIG (calls and BATCH
 * records) and records each broken rule in `problems` instead of throwing inside the bridge.
 */
export class HostLedger implements BridgeObserver {
  /** Blocks handed out, and their frames. */
  blocks = 0;
  frames = 0;
  /** Blocks handed out per zone (by their first frame): DMA, Normal, HighMem. */
  readonly blocksPerZone = [0, 0, 0];
  /** Blocks handed out per order (ALLOC_PAGES) and ALLOC_CONTIG ranges by length. */
  readonly ordersSeen = new Set<number>();
  readonly contigLengths: number[] = [];
  /** GFP_ZERO blocks checked to be zero when handed out. */
  zeroChecked = 0;
  /** Frames owned by the guest right now, and the most at once. */
  liveFrames = 0;
  peakFrames = 0;
  readonly problems: string[] = [];
  problemCount = 0;

  private bridge: HypercallBridge | null = null;
  /** 1 for each frame the guest owns now. */
  private readonly owned = new Uint8Array(MAX_FRAMES);
  /** 1 for each frame the allocator may hand out (usable, not reserved); built at the first block. */
  private allowed: Uint8Array | null = null;

  attach(bridge: HypercallBridge): void {
    this.bridge = bridge;
  }

  onCall(_seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void {
    if (status !== Status.OK) return;
    if (cmd === Cmd.ALLOC_PAGES) this.take(result >>> 0, 1 << arg0, arg1, `ALLOC_PAGES(order ${arg0}, gfp 0x${arg1.toString(16)})`, arg0);
    else if (cmd === Cmd.ALLOC_CONTIG) this.take(result >>> 0, arg0, arg2, `ALLOC_CONTIG(${arg0} pages, align ${arg1}, gfp 0x${arg2.toString(16)})`, -1);
    else if (cmd === Cmd.FREE_PAGES) this.give(arg0, 1 << arg1, `FREE_PAGES(0x${arg0.toString(16)}, order ${arg1})`);
    else if (cmd === Cmd.FREE_CONTIG) this.give(arg0, arg1, `FREE_CONTIG(0x${arg0.toString(16)}, ${arg1} pages)`);
  }

  onRecord(_seq: number, _index: number, cmd: number, arg0: number, arg1: number, result: number, status: number): void {
    if (status !== Status.OK) return;
    if (cmd === Cmd.ALLOC_PAGES) this.take(result >>> 0, 1 << arg0, arg1, `BATCH ALLOC_PAGES(order ${arg0})`, arg0);
    else if (cmd === Cmd.FREE_PAGES) this.give(arg0, 1 << arg1, `BATCH FREE_PAGES(0x${arg0.toString(16)}, order ${arg1})`);
  }

  private problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text);
  }

  private take(addr: number, pages: number, gfp: number, what: string, order: number): void {
    const end = addr + pages * PAGE;
    const where = `${what} -> [0x${addr.toString(16)}, 0x${end.toString(16)})`;
    this.blocks++;
    this.frames += pages;
    this.blocksPerZone[zoneOf(addr)]!++;
    if (order >= 0) this.ordersSeen.add(order);
    else this.contigLengths.push(pages);
    if (addr === 0 || addr % PAGE !== 0 || (order >= 0 && addr % (PAGE << order) !== 0)) this.problem(`${where}: misaligned`);
    if (zoneOf(addr) !== zoneOf(end - 1)) this.problem(`${where}: crosses a zone boundary`);
    if ((gfp & GFP_DMA) !== 0 && end > ZONE_DMA_END) this.problem(`${where}: GFP_DMA above 16 MiB`);
    if ((gfp & GFP_HIGHMEM) === 0 && end > ZONE_NORMAL_END) this.problem(`${where}: HighMem without GFP_HIGHMEM`);
    const allowed = this.allowedFrames();
    const first = addr / PAGE;
    for (let f = first; f < first + pages; f++) {
      if (f >= MAX_FRAMES || allowed[f] !== 1) {
        this.problem(`${where}: frame 0x${f.toString(16)} is not usable RAM or is reserved (${this.bridge?.memoryMap?.reservationLabel(f) ?? "not in the map"})`);
        return;
      }
      if (this.owned[f] === 1) {
        this.problem(`${where}: frame 0x${f.toString(16)} handed out twice`);
        return;
      }
    }
    this.owned.fill(1, first, first + pages);
    this.liveFrames += pages;
    if (this.liveFrames > this.peakFrames) this.peakFrames = this.liveFrames;
    if ((gfp & GFP_ZERO) !== 0) {
      const ram = this.bridge!.guestRam;
      for (let p = addr; p < end; p++) {
        if (ram[p] !== 0) {
          this.problem(`${where}: GFP_ZERO block has byte 0x${ram[p]!.toString(16)} at 0x${p.toString(16)}`);
          return;
        }
      }
      this.zeroChecked++;
    }
  }

  private give(addr: number, pages: number, what: string): void {
    const first = addr / PAGE;
    for (let f = first; f < first + pages; f++) {
      if (this.owned[f] !== 1) {
        this.problem(`${what}: the host accepted a free of frame 0x${f.toString(16)}, which the guest did not own`);
        return;
      }
    }
    this.owned.fill(0, first, first + pages);
    this.liveFrames -= pages;
  }

  /** Usable RAM minus reservations, per frame, from the map MEMMAP built. */
  private allowedFrames(): Uint8Array {
    if (this.allowed !== null) return this.allowed;
    const allowed = new Uint8Array(MAX_FRAMES);
    const map = this.bridge?.memoryMap;
    if (map !== null && map !== undefined) {
      for (const u of map.usable()) allowed.fill(1, Math.ceil(u.base / PAGE), Math.floor(u.end / PAGE));
      for (const r of map.reserved()) allowed.fill(0, Math.floor(r.base / PAGE), Math.ceil(r.end / PAGE));
    }
    this.allowed = allowed;
    return allowed;
  }
}

/** What a failing assertion prints: how the run ended, the host's boot log, the guest's serial log. */
export function transcript(r: MachineResult): string {
  return `${r.reason}: ${r.message}\n--- boot log\n${r.bootLog.join("\n")}\n--- guest log\n${r.guestLog}`;
}

/** The checks every passing workload run must meet, judged from the host side. */
export function judge(r: MachineResult, ledger: HostLedger): void {
  const why = transcript(r);
  expect(r.reason, why).toBe("exit");
  expect(r.exitCode, why).toBe(0);
  const a = r.allocator!;
  a.checkInvariants();
  expect(a.freePageCount, "free count restored").toBe(a.managedPageCount);
  expect(r.counters.statuses.ESTATE + r.counters.statuses.ENOSYS + r.counters.protocolErrors, "ESTATE, ENOSYS, protocol errors").toBe(0);
  expect(ledger.problems, `${ledger.problemCount} problems seen from the host`).toEqual([]);
  expect(ledger.blocks, "blocks handed out").toBeGreaterThan(0);
  expect(ledger.liveFrames, "frames the guest still owns at EXIT").toBe(0);
  if (r.memoryBytes >= GiB) expect(a.zoneCount, "zones").toBe(3);
}

/** Boots the guest image with cmdline at memoryBytes under a HostLedger (and any other observers). */
export async function bootGuest(
  cmdline: string,
  memoryBytes: number,
  ...observers: BridgeObserver[]
): Promise<{ r: MachineResult; ledger: HostLedger }> {
  const ledger = new HostLedger();
  const observer = observers.length === 0 ? ledger : allObservers(ledger, ...observers);
  const r = await runMachine({
    kernel: guestKernel(),
    platform: nodePlatform(),
    memoryBytes,
    cmdline,
    observer,
    timeoutMs: GUEST_TIMEOUT_MS - 10_000,
    wasmModule: await v86Wasm(),
  });
  return { r, ledger };
}

/** The guest's summary line for a workload ("NAME: PASS ..."), or "" when it printed none. */
export function summaryLine(r: MachineResult, workload: string): string {
  return r.guestLog.split("\n").find((line) => line.startsWith(`${workload}: `)) ?? "";
}

/** A number printed as `key=N` in a line, or NaN. */
export function field(line: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(line);
  return m === null ? NaN : Number(m[1]);
}

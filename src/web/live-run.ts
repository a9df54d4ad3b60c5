// One live run (in the guest's worker, worker.ts): the guest booted by the same runMachine as
// `buddy86 boot` (with the browser platform), observed by the same modules as `buddy86 boot --owners`
// (src/observe: the event hub, the page owner with guest backtraces, symbols, the timeline; the page
// owner and the page's event log both read one event ring), and the run control behind run / pause /
// step N / speed / pause at a MARK. Only what the panels show is observed (no request log or
// counters: those cost the guest time).

import { GFP, PAGE_SIZE } from "../mem/index.js";
import { Cmd, Status } from "../protocol/abi.js";
import { kernelElfOrNull, type Elf32Image } from "../machine/elf.js";
import { runMachine, type MachineControl, type MachineResult, type Platform } from "../machine/index.js";
import { browserPlatform } from "../host/browser-platform.js";
import { EventHub } from "../observe/event-hub.js";
import { EventRing } from "../observe/event-ring.js";
import { PresentOwner } from "../observe/present-owner.js";
import { OwnerArena } from "../observe/owner-wasm.js";
import { Symbolizer } from "../observe/symbols.js";
import { Timeline } from "../observe/timeline.js";
import { codeRanges } from "../observe/stack-walk.js";
import { takeSnapshot } from "../observe/snapshot.js";
import { formatProcReports } from "../observe/proc-reports.js";
import { depotStackText, formatInvalidFrees, formatLeaks } from "../observe/owner-report.js";
import { buildReport, type BootReport } from "../cli/report.js";
import { DebugSession } from "../debug/session.js";
import { EventLog } from "./event-log.js";
import { liveSnapshot, type MemorySnapshot } from "./model.js";
import type { OwnerRecord } from "./inspector.js";

/** Everything a run is started with (the page's controls). */
export interface RunSettings {
  kernel: Uint8Array;
  /** Shown in the status line ("bundled guest", a file name). */
  kernelName: string;
  cmdline: string;
  memoryBytes: number;
  maxOrder: number;
  pcp: boolean;
  /** Page poisoning (src/debug, as `buddy86 boot --poison`): report writes to freed pages. */
  poison: boolean;
  /** Exact MARK label to pause at ("" for none). */
  pauseAtMark: string;
  /** Hypercalls per display frame; 0 runs at full speed. */
  callsPerFrame: number;
  /** Where v86.wasm is, relative to the page. */
  wasmUrl: string;
}

export type RunState = "booting" | "running" | "paused" | "ended";

/** Guest time, not counting pauses: plenty for any workload, short enough to end a runaway guest. */
const RUN_TIMEOUT_MS = 10 * 60_000;
const MAX_CONSOLE_LINES = 4000;

export class LiveRun {
  readonly hub: EventHub;
  readonly owner: PresentOwner;
  readonly sym: Symbolizer;
  readonly timeline: Timeline;
  readonly events: EventLog;
  /** Poison checking, when asked for. */
  readonly debug: DebugSession | null = null;
  readonly elf: Elf32Image | null;
  state: RunState = "booting";
  /** Console lines: the guest's COM1 output and the host's boot log ("[buddy86] ..."). */
  readonly console: string[] = [];
  /** Lines ever added to `console` (it keeps the last MAX_CONSOLE_LINES). */
  consoleVersion = 0;
  result: MachineResult | null = null;
  report: BootReport | null = null;
  /** The end-of-run reports, as `buddy86 boot --reports --owners` prints them (set once ended). */
  reportsText = "";
  /** Hypercalls per display frame (0: full speed); may change while running. */
  callsPerFrame: number;
  private control: MachineControl | null = null;
  private snap: MemorySnapshot | null = null;
  private userPaused = false;
  /** stop() was called, maybe before the machine handed over its control. */
  private stopAsked = false;
  private readonly listeners: (() => void)[] = [];

  /**
   * `wasmModule`: v86.wasm compiled once by the worker for all its runs (else v86 compiles it).
   * `platform`: the browser's unless given (npm run bench:live runs the page's observers under Node).
   */
  constructor(
    readonly settings: RunSettings,
    private readonly wasmModule: WebAssembly.Module | null = null,
    private readonly platform: Platform | null = null,
  ) {
    this.elf = kernelElfOrNull(settings.kernel);
    const hub = new EventHub({ code: codeRanges(this.elf) });
    const sym = new Symbolizer(this.elf);
    this.hub = hub;
    this.sym = sym;
    // Every event goes to one ring, the hub's only block subscriber: the log draws it, and the page
    // owner (the present only: records per head frame, no table of every allocation) reads it.
    // The ring and the owner's tables share a WebAssembly arena, where the owner's catch-up runs
    // (owner-wasm.ts); its tables are sized for the guest's RAM (a larger map, or no arena when the
    // memory is refused, falls back to JavaScript).
    const arena = OwnerArena.create(Math.min(2 ** 20, Math.ceil(settings.memoryBytes / PAGE_SIZE)));
    const ring = new EventRing(hub, arena);
    hub.subscribe(ring);
    // Its allocs and frees are written in the arena, sampled there too (EventHub.writeRingInArena).
    if (arena !== null) hub.writeRingInArena(arena, ring);
    this.owner = new PresentOwner(hub, ring, undefined, arena);
    this.timeline = new Timeline(hub);
    hub.subscribe(this.timeline);
    this.events = new EventLog(ring, (_kind, stack, eip) => (stack >= 0 ? sym.ownerOf(hub.depot, stack) : eip !== 0 ? sym.format(eip) : ""));
    if (settings.poison) {
      this.debug = new DebugSession({ poison: true, poisonAction: "report" });
      this.debug.owners = { hub, owner: this.owner, sym };
      this.debug.onPoison = (v) => this.line(`[buddy86] poison: ${v.message}`);
    }
    // Only a run that pauses at a MARK looks at every call's end (one call less per hypercall).
    if (settings.pauseAtMark !== "") hub.subscribe({ onCallEnd: (seq, cmd, status) => this.callEnded(seq, cmd, status) });
    this.callsPerFrame = settings.callsPerFrame;
  }

  /** Boots and runs the guest; resolves when the run is over (the emulator destroyed). */
  async start(): Promise<MachineResult> {
    const s = this.settings;
    try {
      const result = await runMachine({
        kernel: s.kernel,
        platform: this.platform ?? browserPlatform(s.wasmUrl),
        memoryBytes: s.memoryBytes,
        cmdline: s.cmdline,
        maxOrder: s.maxOrder,
        pcp: s.pcp ? undefined : false,
        timeoutMs: RUN_TIMEOUT_MS,
        kernelElf: this.elf,
        observer: this.hub,
        onGuestLine: (line) => this.line(line),
        onBootLogLine: (line) => this.line(`[buddy86] ${line}`),
        onControl: (control) => this.attach(control),
        ...(this.wasmModule !== null ? { wasmModule: this.wasmModule } : {}),
        ...(this.debug !== null ? { onAllocator: this.debug.onAllocator } : {}),
      });
      this.result = result;
      this.report = buildReport(result);
      this.reportsText = this.finalReports(result);
      return result;
    } finally {
      this.state = "ended";
      this.changed();
    }
  }

  /** Called when the state changes (paused, resumed, ended). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The allocator as the panels draw it (null before MEMMAP), current to the last call. */
  get snapshot(): MemorySnapshot | null {
    const bridge = this.hub.bridge;
    const buddy = bridge?.allocator ?? null;
    if (buddy === null || bridge === null) return null;
    if (this.snap === null) this.snap = liveSnapshot(buddy, bridge.memoryMap, bridge.guestRam.length);
    this.snap.seq = bridge.seq - 1;
    return this.snap;
  }

  /** Hypercalls answered so far. */
  get calls(): number {
    return this.hub.bridge?.seq ?? 0;
  }

  pause(): void {
    this.userPaused = true;
    const c = this.control;
    if (c === null) return;
    // A throttled guest may be stopped between two frames' steps already: no pause will come, so the
    // run is paused now.
    if (c.paused && this.state === "running") {
      this.state = "paused";
      this.changed();
    } else c.pause();
  }

  /** Runs freely (or at callsPerFrame) again. */
  resume(): void {
    this.userPaused = false;
    if (this.control === null || !this.control.paused) return;
    if (this.callsPerFrame > 0) this.control.step(this.callsPerFrame);
    else this.control.resume();
    this.state = "running";
    this.changed();
  }

  /** Runs n more calls, then pauses (from a pause; also pauses a running guest after n calls). */
  step(n: number): void {
    this.userPaused = true;
    if (this.control === null) return;
    this.control.step(n);
    this.state = "running";
    this.changed();
  }

  stop(): void {
    this.stopAsked = true;
    this.control?.stop();
  }

  /**
   * Once per display frame: a throttled run gets its next callsPerFrame calls; a run at full speed
   * whose speed was just set to N calls per frame is paused, to be stepped from the next frame on.
   */
  tick(): void {
    const c = this.control;
    if (c === null || this.state === "ended" || this.userPaused) return;
    if (this.callsPerFrame > 0 && c.paused) c.step(this.callsPerFrame);
    else if (this.callsPerFrame > 0 && c.runningFree) c.pause();
    else if (this.callsPerFrame === 0 && c.paused) c.resume();
  }

  /** What the page owner knows of the latest allocation covering pfn. */
  ownerOf(pfn: number): OwnerRecord | null {
    const owner = this.owner;
    if (owner === null || owner.count === 0) return null;
    const row = owner.rowOfFrame(pfn);
    if (row < 0) return null;
    const depot = this.hub.depot;
    const sym = this.sym;
    const o = owner.row(row);
    return {
      headPfn: o.pfn,
      npages: o.npages,
      order: o.order,
      gfp: o.gfp >= 0 ? o.gfp : GFP.KERNEL,
      allocSeq: o.allocSeq,
      allocStack: sym.formatStack(depot, o.allocStack),
      owner: sym.ownerOf(depot, o.allocStack),
      freeSeq: o.freeSeq >= 0 ? o.freeSeq : null,
      freeStack: o.freeStack >= 0 ? sym.formatStack(depot, o.freeStack) : null,
    };
  }

  /** Free frames now (all zones, per-CPU lists included), or -1 before MEMMAP. */
  get freeFrames(): number {
    return this.hub.allocator?.freePageCount ?? -1;
  }

  get managedBytes(): number {
    return (this.hub.allocator?.managedPageCount ?? 0) * PAGE_SIZE;
  }

  /** /proc reports of the final state, leaks with their owners, invalid frees. */
  private finalReports(result: MachineResult): string {
    const bridge = this.hub.bridge;
    const buddy = result.allocator;
    if (bridge === null || buddy === null) return "";
    const endSeq = bridge.seq - 1;
    this.timeline.sample(endSeq);
    const parts = [formatProcReports(takeSnapshot(buddy, result.memoryMap, result.memoryBytes, endSeq), `reports at the end (after call ${endSeq})`)];
    const stackText = depotStackText(this.hub.depot, this.sym);
    if (result.reason === "exit") parts.push(formatLeaks(this.owner, this.owner.liveAt(Infinity), stackText));
    parts.push(formatInvalidFrees(this.owner, this.sym));
    const poison = this.debug?.report().poison ?? null;
    if (poison !== null) parts.push(`poison: ${poison.violations} violation(s)${poison.reports.map((v) => `\n${v.message}`).join("")}`);
    return parts.filter((t) => t !== "").join("\n");
  }

  private attach(control: MachineControl): void {
    this.control = control;
    // Asked before v86 booted: a Stop ends the run before its first instruction, a Pause holds it.
    if (this.stopAsked) {
      control.stop();
      return;
    }
    this.state = "running";
    control.onPause = () => {
      // A throttled run pauses every frame: only the user's pauses (and MARK stops) show as paused.
      if (this.userPaused) {
        this.state = "paused";
        this.changed();
      }
    };
    if (this.callsPerFrame > 0 || this.userPaused) control.pause();
  }

  /** Between two calls, inside the port handler: pause at the chosen MARK. */
  private callEnded(_seq: number, cmd: number, status: number): void {
    const label = this.settings.pauseAtMark;
    if (cmd !== Cmd.MARK || status !== Status.OK || label === "") return;
    const marks = this.hub.bridge!.marks;
    if (marks[marks.length - 1]?.label === label) this.pause();
  }

  private line(text: string): void {
    this.console.push(text);
    if (this.console.length > MAX_CONSOLE_LINES) this.console.splice(0, this.console.length - MAX_CONSOLE_LINES);
    this.consoleVersion++;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

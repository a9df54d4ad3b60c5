// The observability flags of `buddy86 boot` (--owners, --at, --report-every, --trace, --trace-limit,
// --trace-snapshot-every, --map, --frag, --no-progress) and what they do after the run: print owners,
// leaks, invalid frees and reports, write the trace and the pictures. main.ts adds the options with
// addObserveOptions() and wires one ObserveRun into runMachine; everything else lives here.

import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import type { Command } from "commander";
import { kernelElfOrNull, type Elf32Image } from "../machine/elf.js";
import type { BridgeObserver, HypercallBridge, MachineResult } from "../machine/index.js";
import {
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_TRACE_LIMIT,
  ObserveSession,
  buildMapModel,
  parseAt,
  renderFragSvg,
  renderMapSvg,
  writeTrace,
  type ObserveResult,
  type OwnedBlock,
  type TraceEnding,
} from "../observe/index.js";
import { UsageError, checkOutputPath, parseCount } from "./options.js";
import { svgToPng } from "./png.js";
import { ProgressBar } from "./progress-bar.js";

export interface ObserveFlags {
  owners?: boolean;
  reports?: boolean;
  at: string;
  reportEvery?: string;
  trace?: string;
  traceLimit: string;
  traceSnapshotEvery: string;
  map?: string;
  frag?: string;
  progress: boolean;
}

/** Adds the observability options to the boot command. */
export function addObserveOptions(cmd: Command): Command {
  return cmd
    .option("--reports", "observe the run: /proc-style reports at each MARK and at the end, warn_alloc on ENOMEM")
    .option("--owners", "print page owners (live blocks grouped by guest stack) at --at, leaks at EXIT and invalid frees")
    .option("--at <moment>", "when views of live memory are taken: peak, mark:LABEL or call:N", "peak")
    .option("--report-every <calls>", "also print /proc-style reports every N calls (they are printed at each MARK and at the end)")
    .option("--trace <file.json>", "write a Chrome Trace Event Format file (Perfetto, chrome://tracing)")
    .option("--trace-limit <events>", "most allocation events kept in the trace", String(DEFAULT_TRACE_LIMIT))
    .option("--trace-snapshot-every <calls>", "calls between full allocator snapshots in the trace (0: only the ones after MEMMAP and at the end)", String(DEFAULT_SNAPSHOT_EVERY))
    .option("--map <file.svg|file.png>", "picture of physical memory at --at, coloured by state and owner")
    .option("--frag <file.svg|file.png>", "chart of the unusable free space index per order over the run")
    .option("--no-progress", "no progress bar on stderr (it is off anyway when stderr is not a terminal or with --json)");
}

/**
 * True when a flag asks for observation. Without one the run is not observed at all (no listener on
 * the allocator, no observer on the bridge): plain boots keep their full speed.
 */
export function observeRequested(flags: ObserveFlags): boolean {
  return flags.owners === true || flags.reports === true || flags.reportEvery !== undefined || flags.trace !== undefined || flags.map !== undefined || flags.frag !== undefined || flags.at !== "peak";
}

/** What main.ts needs to know about the run besides the flags. */
export interface ObserveContext {
  kernel: Uint8Array;
  json: boolean;
  quiet: boolean;
  /**
   * The flags asked for observation (observeRequested). False for a run observed only to keep page
   * owners for a snapshot (--save-state, --restore-state): it prints no reports of its own then,
   * only what a page owner finds (leaks, invalid frees).
   */
  requested: boolean;
  ops: number | null;
  cmdline: string;
  memoryBytes: number;
  /** Where text reports go (stdout). */
  print: (text: string) => void;
}

/**
 * The progress bar of a boot that is not observed: an observer that only keeps the bridge (its
 * onCall does nothing) and a timer that reads the bridge's call count five times a second. Null when
 * there is no bar to show (stderr not a terminal, --json, --no-progress). Call stop() after the run.
 */
export function plainProgress(flags: Pick<ObserveFlags, "progress">, json: boolean, ops: number | null): { observer: BridgeObserver; stop(): void } | null {
  if (!flags.progress || json || process.stderr.isTTY !== true) return null;
  const bar = new ProgressBar(ops);
  let bridge: HypercallBridge | null = null;
  const timer = setInterval(() => {
    if (bridge !== null && bridge.seq > 0) bar.update(bridge.seq);
  }, 200);
  return {
    observer: {
      attach: (b) => (bridge = b),
      onCall: () => {},
    },
    stop: () => {
      clearInterval(timer);
      bar.stop();
    },
  };
}

/** One observed boot: the session (its hub is the machine's observer), the progress bar, the outputs. */
export class ObserveRun {
  readonly session: ObserveSession;
  private readonly bar: ProgressBar | null;
  private readonly elf: Elf32Image | null;

  constructor(
    private readonly flags: ObserveFlags,
    private readonly ctx: ObserveContext,
  ) {
    let at;
    try {
      at = parseAt(flags.at);
    } catch (e) {
      throw new UsageError(`--at: ${(e as Error).message}`);
    }
    this.elf = kernelElfOrNull(ctx.kernel);
    const live = !ctx.json && !ctx.quiet && ctx.requested;
    const reportEvery = flags.reportEvery !== undefined ? parseCount("--report-every", flags.reportEvery) : 0;
    if (flags.reportEvery !== undefined && reportEvery === 0) throw new UsageError("--report-every 0: use a number of calls of 1 or more (leave it out for no periodic reports)");
    const traceLimit = parseCount("--trace-limit", flags.traceLimit);
    const snapshotEvery = parseCount("--trace-snapshot-every", flags.traceSnapshotEvery);
    for (const [flag, file] of [["--map", flags.map], ["--frag", flags.frag]] as const) if (file !== undefined) checkOutputPath(flag, file, [".svg", ".png"]);
    if (flags.trace !== undefined) checkOutputPath("--trace", flags.trace);
    this.bar = flags.progress && !ctx.json && process.stderr.isTTY === true ? new ProgressBar(ctx.ops) : null;
    this.session = new ObserveSession({
      elf: this.elf,
      owners: true,
      at,
      reportEvery,
      trace: flags.trace !== undefined ? { limit: traceLimit, snapshotEvery } : null,
      onText: live ? (text) => this.printAbove(text) : undefined,
      onProgress: this.bar !== null ? (calls) => this.bar!.update(calls) : undefined,
      progressEvery: 1024,
    });
  }

  /** The machine's observer. */
  get observer(): ObserveSession["hub"] {
    return this.session.hub;
  }

  private printAbove(text: string): void {
    if (this.bar !== null) this.bar.clear();
    this.ctx.print(text.replace(/\n+$/, ""));
  }

  /**
   * After the run: prints owners, leaks, invalid frees and reports (unless --json), writes the files.
   * Returns the `observe` object of the --json report.
   */
  async finish(result: MachineResult): Promise<Record<string, unknown>> {
    this.bar?.stop();
    const r = this.session.finish(result);
    const flags = this.flags;
    const print = (text: string): void => {
      if (!this.ctx.json && text !== "") this.ctx.print(text.replace(/\n+$/, ""));
    };
    // The note is about the map's moment (or a moment --at named that did not occur).
    if (r.atNote !== null && (flags.map !== undefined || flags.at !== "peak")) print(`buddy86: --at ${flags.at}: ${r.atNote}`);
    // A run observed only for its snapshot's page owners prints nothing of its own (--owners is a
    // requested observation: observeRequested).
    if (this.ctx.requested) {
      if (!this.ctx.quiet) {
        print(r.reportsText);
        print(r.countersText);
      }
      if (flags.owners === true) print(r.ownersText);
      print(r.leaksText);
      print(r.invalidFreesText);
      if (r.warningsSuppressed > 0) print(`warn_alloc: ${r.warningsSuppressed} reports suppressed in all`);
    }
    const written: string[] = [];
    if (flags.map !== undefined && r.atSnapshot !== null) {
      const svg = renderMapSvg(buildMapModel(r.atSnapshot, this.ownedBlocks(r), `buddy86 physical memory ${r.atTitle}`));
      await writePicture(flags.map, svg);
      written.push(flags.map);
    }
    if (flags.frag !== undefined && r.timeline !== null) {
      const svg = renderFragSvg(r.timeline, result.marks, `buddy86 fragmentation over the run (${this.ctx.cmdline || "default cmdline"})`);
      await writePicture(flags.frag, svg);
      written.push(flags.frag);
    }
    if (flags.trace !== undefined && this.session.trace !== null) {
      const fd = openSync(flags.trace, "w");
      try {
        writeTrace(this.session.trace, this.traceEnding(r, result), (chunk) => writeSync(fd, chunk));
      } finally {
        closeSync(fd);
      }
      written.push(flags.trace);
    }
    if (flags.map !== undefined && r.atSnapshot === null) console.error(`buddy86: --map ${flags.map}: not written, the guest never completed MEMMAP`);
    if (flags.frag !== undefined && r.timeline === null) console.error(`buddy86: --frag ${flags.frag}: not written, the guest never completed MEMMAP`);
    if (written.length > 0 && !this.ctx.json) console.error(`buddy86: wrote ${written.join(", ")}`);
    return {
      at: { spec: flags.at, seq: r.atSeq, title: r.atTitle, note: r.atNote },
      peak: { seq: this.session.owner?.peakSeq ?? -1, frames: this.session.owner?.peakFrames ?? 0 },
      leaks: r.leakRows.length,
      invalidFrees: this.session.owner?.invalidFreeCount ?? 0,
      allocationFailureReports: r.warnings.length,
      counters: r.counters,
      files: written,
      owners: flags.owners === true ? r.ownersText : undefined,
    };
  }

  /** Live blocks at the moment, with their owner function. */
  private ownedBlocks(r: ObserveResult): OwnedBlock[] {
    const owner = this.session.owner;
    if (owner === null) return [];
    const s = this.session;
    return r.atRows.map((row) => {
      const o = owner.row(row);
      return { pfn: o.pfn, npages: o.npages, owner: s.sym.ownerOf(s.hub.depot, o.allocStack) };
    });
  }

  private traceEnding(r: ObserveResult, result: MachineResult): TraceEnding {
    const s = this.session;
    const owner = s.owner!;
    const rowData = (row: number): number[] => {
      const o = owner.row(row);
      return [o.pfn, o.npages, o.order, o.gfp, o.allocStack, o.allocSeq, o.allocIcount];
    };
    const stacks: TraceEnding["stacks"] = {};
    for (let h = 0; h < s.hub.depot.size; h++) stacks[String(h)] = { frames: s.sym.formatStack(s.hub.depot, h), owner: s.sym.ownerOf(s.hub.depot, h) };
    const trace = s.trace!;
    // The view's call is the end, a MARK, the peak or the --at call, whose counters were kept.
    const seq = r.atSeq;
    const atIcount =
      seq === r.endSeq ? trace.lastIcount : (trace.marks.find((m) => m.seq === seq)?.icount ?? (seq === owner.peakSeq ? owner.peakIcount : trace.watchedIcount));
    return {
      otherData: { cmdline: this.ctx.cmdline, memoryBytes: this.ctx.memoryBytes, maxOrder: result.allocator?.maxOrder ?? null },
      endSeq: r.endSeq,
      endIcount: trace.lastIcount,
      timeline: r.timeline,
      finalSnapshot: r.finalSnapshot,
      atSnapshot: r.atSnapshot,
      at: { spec: this.flags.at, seq: r.atSeq, title: r.atTitle, rows: r.atRows.map(rowData), icount: atIcount },
      leaks: r.leakRows.map(rowData),
      stacks,
      invalidFreesText: r.invalidFreesText,
      counters: r.counters,
      summary: { reason: result.reason, exitCode: result.exitCode, calls: r.endSeq + 1, peakSeq: owner.peakSeq, peakFrames: owner.peakFrames, warnings: r.warnings.length },
    };
  }
}

/** Writes an SVG, or renders it to PNG when the name ends in .png. */
export async function writePicture(path: string, svg: string): Promise<void> {
  if (/\.png$/i.test(path)) writeFileSync(path, await svgToPng(svg));
  else writeFileSync(path, svg);
}

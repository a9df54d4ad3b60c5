// One observed run: builds the EventHub and the subscribers a set of options asks for (page owner,
// request log for replays, counters, warn_alloc, timeline, trace recorder, progress), hands the hub to
// runMachine as its observer, and after the run assembles every view: the moment chosen with --at
// (peak, a MARK, a call) rebuilt by replay, /proc reports, owners, leaks and invalid frees. Pure: the
// CLI writes the files, a web page can do the same with the same results.

import type { Elf32Image } from "../machine/elf.js";
import type { MachineResult } from "../machine/machine.js";
import { Cmd, Status } from "../protocol/abi.js";
import { EventHub } from "./event-hub.js";
import type { EventSubscriber } from "./events.js";
import { OrderCounters, formatOrderCounters, type OrderCountersData } from "./order-counters.js";
import { depotStackText, formatInvalidFrees, formatLeaks, formatLiveOwners } from "./owner-report.js";
import { PageOwner } from "./page-owner.js";
import { formatProcReports } from "./proc-reports.js";
import { RequestLog, allocatorOptions } from "./replay.js";
import { takeSnapshot, type AllocatorSnapshot } from "./snapshot.js";
import { codeRanges } from "./stack-walk.js";
import { Symbolizer } from "./symbols.js";
import { Timeline, type TimelineData } from "./timeline.js";
import { TraceRecorder, type TraceOptions } from "./trace.js";
import { WarnAlloc } from "./warn-alloc.js";

/** The moment views of live memory are taken at. */
export type AtSpec = { kind: "peak" } | { kind: "mark"; label: string } | { kind: "call"; seq: number };

/** Parses "peak", "mark:LABEL" or "call:N"; throws Error with what to type instead. */
export function parseAt(text: string): AtSpec {
  if (text === "peak") return { kind: "peak" };
  if (text.startsWith("mark:") && text.length > 5) return { kind: "mark", label: text.slice(5) };
  const m = /^call:(\d+)$/.exec(text);
  if (m !== null) return { kind: "call", seq: Number(m[1]) };
  throw new Error(`bad moment "${text}": use peak, mark:LABEL or call:N`);
}

export interface ObserveOptions {
  /** The kernel's ELF, for symbols and the code ranges that bound stack walks (null: hex only). */
  elf: Elf32Image | null;
  /** Keep page owners (stacks per block): needed for owners, leaks, invalid frees and map owner colours. */
  owners?: boolean;
  at?: AtSpec;
  /** Also print reports every N calls (0: only at MARKs and at the end). */
  reportEvery?: number;
  /** Print reports at each MARK (default true). */
  reportAtMarks?: boolean;
  /** Record a Chrome trace. */
  trace?: TraceOptions | null;
  /** Sample the free lists over time (the trace's counters and the frag chart). Default true. */
  timeline?: boolean;
  stackDepth?: number;
  /** On-demand reports and warn_alloc reports, as they happen. */
  onText?: (text: string) => void;
  /** Called every progressEvery calls with the calls served so far. */
  onProgress?: (calls: number) => void;
  progressEvery?: number;
}

/** Everything the session knows after the run. */
export interface ObserveResult {
  at: AtSpec;
  /** The call the views were taken after (-1 when nothing was allocated), and why. */
  atSeq: number;
  atTitle: string;
  /** A note when the requested moment did not occur and the peak was used instead. */
  atNote: string | null;
  /** Allocator state at the moment, and at the end (null without an allocator). */
  atSnapshot: AllocatorSnapshot | null;
  finalSnapshot: AllocatorSnapshot | null;
  /** Page-owner rows live at the moment, and never freed (empty without owners). */
  atRows: number[];
  leakRows: number[];
  ownersText: string;
  leaksText: string;
  invalidFreesText: string;
  reportsText: string;
  counters: OrderCountersData | null;
  countersText: string;
  warnings: string[];
  warningsSuppressed: number;
  timeline: TimelineData | null;
  endSeq: number;
}

export class ObserveSession implements EventSubscriber {
  readonly hub: EventHub;
  readonly sym: Symbolizer;
  readonly owner: PageOwner | null;
  readonly log: RequestLog;
  readonly counters = new OrderCounters();
  readonly warn: WarnAlloc;
  readonly timeline: Timeline | null;
  readonly trace: TraceRecorder | null;
  private readonly reportEvery: number;
  private readonly reportAtMarks: boolean;
  private readonly onText: ((text: string) => void) | null;
  private readonly onProgress: ((calls: number) => void) | null;
  private readonly progressEvery: number;

  constructor(readonly options: ObserveOptions) {
    this.hub = new EventHub({ stackDepth: options.stackDepth ?? 16, code: codeRanges(options.elf) });
    this.sym = new Symbolizer(options.elf);
    this.onText = options.onText ?? null;
    this.owner = options.owners === false ? null : new PageOwner(this.hub);
    this.log = new RequestLog();
    this.warn = new WarnAlloc(this.hub, this.sym, this.onText);
    this.timeline = options.timeline === false ? null : new Timeline(this.hub);
    const at = options.at;
    this.trace = options.trace ? new TraceRecorder(this.hub, this.sym, { ...options.trace, watchCall: at?.kind === "call" ? at.seq : -1 }) : null;
    this.reportEvery = options.reportEvery ?? 0;
    this.reportAtMarks = options.reportAtMarks ?? true;
    this.onProgress = options.onProgress ?? null;
    this.progressEvery = options.progressEvery ?? 4096;
    for (const s of [this.owner, this.log, this.counters, this.warn, this.timeline, this.trace, this]) if (s !== null) this.hub.subscribe(s);
  }

  onCallEnd(seq: number, cmd: number, status: number): void {
    if (this.onProgress !== null && (seq + 1) % this.progressEvery === 0) this.onProgress(seq + 1);
    const onText = this.onText;
    if (onText === null || this.hub.allocator === null) return;
    if (cmd === Cmd.MARK && status === Status.OK && this.reportAtMarks) {
      const marks = this.hub.bridge!.marks;
      onText(this.reportNow(seq, `reports at MARK "${marks[marks.length - 1]?.label ?? ""}" (call ${seq})`));
    } else if (this.reportEvery > 0 && (seq + 1) % this.reportEvery === 0) {
      onText(this.reportNow(seq, `reports after call ${seq}`));
    }
  }

  /** /proc reports and counters of the live allocator now. */
  reportNow(seq: number, title: string): string {
    const buddy = this.hub.allocator!;
    const bridge = this.hub.bridge!;
    const snap = takeSnapshot(buddy, bridge.memoryMap, bridge.guestRam.length, seq);
    return formatProcReports(snap, title) + formatOrderCounters(this.counters.data(buddy.maxOrder));
  }

  /** The call a moment names, or null when it did not happen in this run. */
  private momentSeq(at: AtSpec, endSeq: number): number | null {
    if (at.kind === "peak") return this.owner !== null && this.owner.peakSeq >= 0 ? this.owner.peakSeq : null;
    if (at.kind === "call") return at.seq <= endSeq ? at.seq : null;
    const mark = this.hub.bridge?.marks.find((m) => m.label === at.label);
    return mark === undefined ? null : mark.seq;
  }

  /** Assembles every view after the run. Throws when a replay disagrees with the run (our bug). */
  finish(result: MachineResult): ObserveResult {
    const bridge = this.hub.bridge;
    const buddy = result.allocator;
    const endSeq = bridge === null ? -1 : bridge.seq - 1;
    const at = this.options.at ?? { kind: "peak" };
    this.timeline?.sample(endSeq);
    let atSeq = this.momentSeq(at, endSeq);
    let atNote: string | null = null;
    if (atSeq === null && at.kind !== "peak") {
      atNote = `${at.kind === "mark" ? `no MARK "${at.label}"` : `no call ${at.seq}`} in this run: views are taken at the peak instead`;
      atSeq = this.momentSeq({ kind: "peak" }, endSeq);
    }
    const atTitle = atSeq === null ? "at the end" : at.kind === "peak" || atNote !== null ? `at peak (after call ${atSeq})` : at.kind === "mark" ? `at MARK "${at.label}" (call ${atSeq})` : `after call ${atSeq}`;
    if (atSeq === null) atSeq = endSeq;

    let atSnapshot: AllocatorSnapshot | null = null;
    let finalSnapshot: AllocatorSnapshot | null = null;
    const map = result.memoryMap;
    if (buddy !== null && map !== null) {
      finalSnapshot = takeSnapshot(buddy, map, result.memoryBytes, endSeq);
      const opts = allocatorOptions(buddy);
      // A replay needs every request since MEMMAP, answered in full: not so after a restored
      // checkpoint, nor when a host error cut a request short.
      const replayable = this.hub.allocatorFresh && result.reason !== "host-error";
      if (replayable) {
        // Self-check: replaying every request must give the allocator the run ended with.
        const twin = this.log.rebuild(map, opts, Infinity);
        if (!equalBytes(twin.meta, buddy.meta)) throw new Error("invariant: replaying the run's requests does not rebuild its final allocator state");
      }
      if (atSeq >= endSeq) atSnapshot = finalSnapshot;
      else if (replayable) atSnapshot = takeSnapshot(this.log.rebuild(map, opts, atSeq), map, result.memoryBytes, atSeq);
      else {
        atSnapshot = finalSnapshot;
        atNote = `${atNote !== null ? `${atNote}; ` : ""}the allocator's state at call ${atSeq} cannot be rebuilt (${result.reason === "host-error" ? "a host error cut the run" : "the run was restored from a checkpoint"}): the map shows the end`;
      }
    }
    const owner = this.owner;
    const stackText = depotStackText(this.hub.depot, this.sym);
    const atRows = owner === null ? [] : owner.liveAt(atSeq);
    const leakRows = owner === null || result.reason !== "exit" ? [] : owner.liveAt(Infinity);
    const counters = buddy === null ? null : this.counters.data(buddy.maxOrder);
    return {
      at,
      atSeq,
      atTitle,
      atNote,
      atSnapshot,
      finalSnapshot,
      atRows,
      leakRows,
      ownersText: owner === null ? "" : formatLiveOwners(owner, atRows, stackText, atTitle),
      leaksText: owner === null ? "" : formatLeaks(owner, leakRows, stackText),
      invalidFreesText: owner === null ? "" : formatInvalidFrees(owner, this.sym),
      reportsText: finalSnapshot === null ? "" : formatProcReports(finalSnapshot, `reports at the end (after call ${endSeq})`),
      counters,
      countersText: counters === null ? "" : formatOrderCounters(counters),
      warnings: this.warn.reports,
      warningsSuppressed: this.warn.suppressed,
      timeline: this.timeline === null || buddy === null ? null : this.timeline.toData(),
      endSeq,
    };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

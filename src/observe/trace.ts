// The --trace file: Chrome's Trace Event Format (JSON Object Format), loadable in Perfetto and
// chrome://tracing. Timestamps are hypercall sequence numbers (1 µs on the timeline = 1 call), so the
// same inputs give the same file apart from the `icount` args. Contents, one event per line:
//  - metadata (ph M): process and thread names;
//  - slices (ph X) between MARK labels, one per phase;
//  - allocation events (ph i): alloc, free, split, merge, pcp-drain, fail, protocol-error, at most
//    `limit` of them (the rest are counted in the final "summary" event);
//  - counters (ph C) from the timeline: free frames and per-CPU frames per zone, free blocks per order;
//  - full allocator snapshots (ph i, "snapshot") right after MEMMAP (the allocator as it began, so
//    a reader can rebuild any call from there with the events), every `snapshotEvery` calls and at
//    the end, each self-contained (snapshot.ts encoding), so a reader can rebuild those moments even
//    when events were cut; the "view" at the --at moment with its live blocks, and the page owners' stack table.
// Every event but the metadata and the counters carries the guest's instruction counter at its call
// as args.icount; a counter's args are its series (Perfetto draws each one), so an icount there would
// be drawn as free frames are. Format version: otherData.buddy86TraceFormat. trace-read.ts reads it
// back (also a truncated file).

import { ZONE_NAMES } from "../mem/index.js";
import { OK } from "../mem/errors.js";
import { HC_MEMMAP } from "../protocol/codes.js";
import type { EventHub } from "./event-hub.js";
import type { AllocatorEvent, EventSubscriber } from "./events.js";
import { encodeMeta, takeSnapshot, type AllocatorSnapshot } from "./snapshot.js";
import type { Symbolizer } from "./symbols.js";
import type { TimelineData } from "./timeline.js";

export const TRACE_FORMAT_VERSION = 1;
export const DEFAULT_TRACE_LIMIT = 100_000;
export const DEFAULT_SNAPSHOT_EVERY = 10_000;
export const PID = 1;
/** Thread ids: one track per kind of content. */
export const TID = { phases: 1, allocations: 2, freeLists: 3, problems: 4, snapshots: 5 } as const;

export interface TraceOptions {
  /** Most allocation events kept (alloc, free, split, merge, pcp-drain, fail, protocol-error). */
  limit: number;
  /** Calls between full snapshots (0: only the one after MEMMAP and the final one). */
  snapshotEvery: number;
  /** A call whose instruction counter the trace's view needs (a --at call:N moment), or -1. */
  watchCall?: number;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}

/** The args of a snapshot event: self-contained geometry and the encoded state bytes. */
export function snapshotArgs(s: AllocatorSnapshot): Record<string, unknown> {
  return {
    format: TRACE_FORMAT_VERSION,
    seq: s.seq,
    maxOrder: s.maxOrder,
    basePfn: s.basePfn,
    frameCount: s.meta.length,
    zoneLo: s.zoneLo,
    zoneHi: s.zoneHi,
    zoneManaged: s.zoneManaged,
    ramPfns: s.ramPfns,
    reserved: s.reserved,
    meta: encodeMeta(s.meta),
  };
}

export class TraceRecorder implements EventSubscriber {
  /** The bounded events (and periodic snapshots), as JSON lines, with their timestamps. */
  readonly lines: string[] = [];
  readonly times: number[] = [];
  readonly dropped: Record<string, number> = {};
  readonly marks: { seq: number; label: string; icount: number }[] = [];
  /** The instruction counter at the last call, and at options.watchCall (-1 until it came). */
  lastIcount = 0;
  watchedIcount = -1;
  /** Stack handles an event referred to (the final stack table lists them). */
  readonly stacksUsed = new Set<number>();
  /** Allocation events kept so far (snapshots do not count). */
  private kept = 0;
  /** The call of the first event dropped by the limit (-1: none): events before it are complete. */
  firstDroppedSeq = -1;

  constructor(
    private readonly hub: EventHub,
    private readonly sym: Symbolizer,
    readonly options: TraceOptions,
  ) {}

  onEvent(e: Readonly<AllocatorEvent>): void {
    if (e.kind === "mark") {
      this.marks.push({ seq: e.seq, label: e.label, icount: e.icount });
      return;
    }
    if (this.kept >= this.options.limit) {
      if (this.firstDroppedSeq < 0) this.firstDroppedSeq = e.seq;
      this.dropped[e.kind] = (this.dropped[e.kind] ?? 0) + 1;
      return;
    }
    this.kept++;
    const args: Record<string, unknown> = {};
    if (e.pfn >= 0) args.pfn = hex(e.pfn);
    if (e.order >= 0) args.order = e.order;
    if (e.npages > 0) args.npages = e.npages;
    if (e.zone >= 0) args.zone = ZONE_NAMES[e.zone];
    if (e.gfp >= 0) args.gfp = hex(e.gfp);
    if (e.kind === "fail" || e.kind === "protocol-error") args.status = e.status;
    if (e.injected) args.injected = true;
    if (e.label !== "") args.label = e.label;
    if (e.record >= 0) args.record = e.record;
    if (e.cmd >= 0) args.cmd = e.cmd;
    let tid: number = TID.freeLists;
    if (e.kind === "alloc" || e.kind === "free" || e.kind === "fail" || e.kind === "protocol-error") {
      if (this.hub.hasGuest) {
        const stack = this.hub.currentStack();
        this.stacksUsed.add(stack);
        args.stack = stack;
        args.owner = this.sym.ownerOf(this.hub.depot, stack);
      }
      tid = e.kind === "alloc" || e.kind === "free" ? TID.allocations : TID.problems;
    }
    args.eip = hex(e.eip);
    // Events without a backtrace (split, merge, pcp-drain) name the function of their EIP, so a
    // replay, which has no ELF, shows what a live log shows.
    if (args.stack === undefined && e.eip !== 0) {
      const where = this.sym.symbol(e.eip);
      if (where !== null) args.where = where;
    }
    args.icount = e.icount;
    const scope = tid === TID.problems ? "p" : "t";
    this.lines.push(JSON.stringify({ name: e.kind, cat: "buddy86", ph: "i", s: scope, ts: e.seq, pid: PID, tid, args }));
    this.times.push(e.seq);
  }

  onCallEnd(seq: number, cmd: number, status: number): void {
    const icount = this.hub.icount;
    this.lastIcount = icount;
    if (seq === this.options.watchCall) this.watchedIcount = icount;
    const every = this.options.snapshotEvery;
    const memmap = cmd === HC_MEMMAP && status === OK;
    if ((memmap || (every > 0 && seq > 0 && seq % every === 0)) && this.hub.allocator !== null) {
      const bridge = this.hub.bridge!;
      const snap = takeSnapshot(this.hub.allocator, bridge.memoryMap, bridge.guestRam.length, seq);
      this.lines.push(snapshotEvent("snapshot", snap, { icount }));
      this.times.push(seq);
    }
  }
}

function snapshotEvent(name: string, snap: AllocatorSnapshot, extra: Record<string, unknown>): string {
  return JSON.stringify({ name, cat: "buddy86", ph: "i", s: "p", ts: Math.max(0, snap.seq), pid: PID, tid: TID.snapshots, args: { ...snapshotArgs(snap), ...extra } });
}

/** What the end of the run adds to a trace. */
export interface TraceEnding {
  otherData: Record<string, unknown>;
  endSeq: number;
  /** The instruction counter at the last call. */
  endIcount: number;
  timeline: TimelineData | null;
  finalSnapshot: AllocatorSnapshot | null;
  atSnapshot: AllocatorSnapshot | null;
  /** The view's moment and its live blocks: [pfn, npages, order, gfp, stack, allocSeq, icount]. */
  at: { spec: string; seq: number; title: string; rows: number[][]; icount: number };
  leaks: number[][];
  /** Stack handle -> formatted frames, and its owner function. */
  stacks: Record<string, { frames: string[]; owner: string }>;
  invalidFreesText: string;
  counters: unknown;
  summary: Record<string, unknown>;
}

/** Writes the whole trace through `write`, in chunks of whole lines. */
export function writeTrace(recorder: TraceRecorder, end: TraceEnding, write: (chunk: string) => void): void {
  const otherData = { buddy86TraceFormat: TRACE_FORMAT_VERSION, clock: "ts = hypercall sequence number (1 us = 1 call); args.icount = guest instructions (approximate)", ...end.otherData };
  write(`{"otherData":${JSON.stringify(otherData)},\n"traceEvents":[\n`);
  const meta = (tid: number, name: string, value: string): string => JSON.stringify({ name, ph: "M", pid: PID, tid, args: { name: value } });
  const out: string[] = [meta(0, "process_name", "buddy86 guest memory")];
  out.push(meta(TID.phases, "thread_name", "phases (MARK)"));
  out.push(meta(TID.allocations, "thread_name", "alloc / free"));
  out.push(meta(TID.freeLists, "thread_name", "split / merge / pcp-drain"));
  out.push(meta(TID.problems, "thread_name", "failures and protocol errors"));
  out.push(meta(TID.snapshots, "thread_name", "snapshots"));
  const marks = recorder.marks;
  marks.forEach((m, i) => {
    const next = i + 1 < marks.length ? marks[i + 1]!.seq : end.endSeq + 1;
    out.push(JSON.stringify({ name: m.label, cat: "buddy86", ph: "X", ts: m.seq, dur: Math.max(0, next - m.seq), pid: PID, tid: TID.phases, args: { label: m.label, icount: m.icount } }));
  });
  // Counters and bounded events, merged in timestamp order (both are sorted already).
  const counters = counterLines(end.timeline);
  const events = recorder.lines;
  const times = recorder.times;
  for (let i = 0, j = 0; i < counters.length || j < events.length; ) {
    if (j >= events.length || (i < counters.length && counters[i]!.ts <= times[j]!)) out.push(counters[i++]!.line);
    else out.push(events[j++]!);
  }
  if (end.finalSnapshot !== null) out.push(snapshotEvent("snapshot", end.finalSnapshot, { final: true, icount: end.endIcount }));
  if (end.atSnapshot !== null) out.push(snapshotEvent("view", end.atSnapshot, { at: end.at.spec, title: end.at.title, rows: end.at.rows, icount: end.at.icount }));
  const endTs = Math.max(0, end.endSeq);
  const instant = (name: string, args: Record<string, unknown>): string => JSON.stringify({ name, cat: "buddy86", ph: "i", s: "g", ts: endTs, pid: PID, tid: TID.snapshots, args });
  out.push(instant("owners", { stacks: end.stacks, leaks: end.leaks, invalidFrees: end.invalidFreesText, icount: end.endIcount }));
  out.push(instant("summary", { icount: end.endIcount, ...end.summary, counters: end.counters, dropped: recorder.dropped, limit: recorder.options.limit, firstDroppedSeq: recorder.firstDroppedSeq }));
  for (let i = 0; i < out.length; i += 256) write(out.slice(i, i + 256).join(",\n") + (i + 256 < out.length ? ",\n" : "\n"));
  write("]}\n");
}

/** Counter events from the timeline's samples, with their timestamps. */
function counterLines(t: TimelineData | null): { ts: number; line: string }[] {
  if (t === null) return [];
  const out: { ts: number; line: string }[] = [];
  const names = t.zones.map((z) => ZONE_NAMES[z]!);
  t.seq.forEach((seq, r) => {
    const ts = Math.max(0, seq);
    const frames: Record<string, number> = {};
    const pcp: Record<string, number> = {};
    names.forEach((n, k) => {
      frames[n] = t.freeFrames[r]![k]!;
      pcp[n] = t.pcpFrames[r]![k]!;
    });
    out.push({ ts, line: JSON.stringify({ name: "free frames", cat: "buddy86", ph: "C", ts, pid: PID, tid: 0, args: frames }) });
    out.push({ ts, line: JSON.stringify({ name: "per-CPU frames", cat: "buddy86", ph: "C", ts, pid: PID, tid: 0, args: pcp }) });
    names.forEach((n, k) => {
      const blocks: Record<string, number> = {};
      t.freeBlocks[r]![k]!.forEach((count, order) => (blocks[`order ${order}`] = count));
      out.push({ ts, line: JSON.stringify({ name: `free blocks ${n}`, cat: "buddy86", ph: "C", ts, pid: PID, tid: 0, args: blocks }) });
    });
  });
  return out;
}

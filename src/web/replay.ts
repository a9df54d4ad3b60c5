// Replaying a trace written by `buddy86 boot --trace FILE.json` (src/observe/trace.ts, read back by
// trace-read.ts) through the same panels as a live run. A replay position is a hypercall number: the
// map shows the newest full snapshot at or before it with the trace's allocation events after that
// snapshot applied to the state bytes (exact for alloc, split and merge; a free shows as a free buddy
// block even when it went to a per-CPU list, until the next snapshot), the event log holds the
// events up to it, and the unusable-index chart the trace's counters with a cursor.

import { ZONE_NAMES } from "../mem/index.js";
import { FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_TAIL } from "../mem/index.js";
import { readTrace, type TraceEvent, type TraceModel } from "../observe/trace-read.js";
import { blankEvent, type AllocatorEvent, type EventKind } from "../observe/events.js";
import { EventLog } from "./event-log.js";
import { OwnerTableBuilder, STATE_SHIFT, type MemorySnapshot, type OwnerTable } from "./model.js";
import type { OwnerRecord } from "./inspector.js";

const BLOCK_KINDS = new Set(["alloc", "free", "split", "merge", "pcp-drain", "fail", "protocol-error"]);

/** An allocation or free event of the trace, decoded once. */
interface TraceBlockEvent {
  kind: EventKind;
  seq: number;
  pfn: number;
  order: number;
  npages: number;
  stack: number;
  event: TraceEvent;
}

export class TraceReplay {
  readonly model: TraceModel;
  /** The trace's allocation events (and marks), in call order. */
  private readonly steps: TraceBlockEvent[];
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly events: EventLog;
  private position = -1;
  private snap: MemorySnapshot | null = null;
  /** ownerIds() of the position it was built at. */
  private owners: { seq: number; table: OwnerTable } | null = null;

  /** Parses a trace's text; throws Error when it is not a buddy86 trace this page can read. */
  constructor(text: string) {
    this.model = readTrace(text);
    if (this.model.snapshots.length === 0) throw new Error("the trace holds no allocator snapshot (was the run cut before MEMMAP?)");
    this.model.snapshots.sort((a, b) => a.seq - b.seq);
    const stacks = this.model.owners?.stacks ?? {};
    // The function of each EIP the trace named (its events without a backtrace carry `where`).
    const whereOf = new Map<number, string>();
    for (const e of this.model.events) if (typeof e.args?.where === "string" && typeof e.args.eip === "string") whereOf.set(parseInt(e.args.eip, 16), e.args.where);
    this.events = EventLog.forReplay((_kind, stack, eip) => (stack >= 0 ? (stacks[String(stack)]?.owner ?? "") : eip !== 0 ? (whereOf.get(eip) ?? `0x${eip.toString(16)}`) : ""));
    const steps: TraceBlockEvent[] = [];
    for (const e of this.model.events) {
      if (e.ph === "i" && BLOCK_KINDS.has(e.name)) {
        const a = e.args ?? {};
        steps.push({
          kind: e.name as EventKind,
          seq: e.ts ?? 0,
          pfn: typeof a.pfn === "string" ? parseInt(a.pfn, 16) : -1,
          order: typeof a.order === "number" ? a.order : -1,
          npages: typeof a.npages === "number" ? a.npages : 0,
          stack: typeof a.stack === "number" ? a.stack : -1,
          event: e,
        });
      }
    }
    for (const m of this.model.marks) steps.push({ kind: "mark", seq: m.seq, pfn: -1, order: -1, npages: 0, stack: -1, event: { name: "mark", ph: "i", args: { label: m.label } } });
    steps.sort((a, b) => a.seq - b.seq);
    this.steps = steps;
    const snaps = this.model.snapshots;
    this.firstSeq = Math.max(0, snaps[0]!.seq);
    const summaryEnd = Number(this.model.summary?.endSeq ?? NaN);
    this.lastSeq = Math.max(snaps[snaps.length - 1]!.seq, steps.length > 0 ? steps[steps.length - 1]!.seq : 0, Number.isFinite(summaryEnd) ? summaryEnd : 0);
    this.seek(this.firstSeq);
  }

  /** The replay position (a hypercall number). */
  get seq(): number {
    return this.position;
  }

  get snapshot(): MemorySnapshot {
    return this.snap!;
  }

  /** True when events after the limit were dropped: past the last event, only snapshots are exact. */
  get eventsCut(): boolean {
    const dropped = (this.model.summary?.dropped ?? {}) as Record<string, number>;
    return Object.values(dropped).some((n) => n > 0);
  }

  /** Moves to call `seq` (clamped to the trace): rebuilds the map state and the event log. */
  seek(seq: number): void {
    const target = Math.max(this.firstSeq, Math.min(this.lastSeq, Math.floor(seq)));
    const snaps = this.model.snapshots;
    let base = snaps[0]!;
    for (const s of snaps) if (s.seq <= target) base = s;
    const meta = base.meta.slice();
    for (const step of this.steps) if (step.seq > base.seq && step.seq <= target) applyStep(meta, base.basePfn, step);
    this.snap = { ...base, seq: target, meta };
    this.events.clear();
    const e = blankEvent();
    for (const step of this.steps) {
      if (step.seq > target) break;
      this.events.push(toEvent(step, e), step.stack);
    }
    this.position = target;
  }

  /** What the trace's owner table says about the latest allocation covering pfn up to the position. */
  ownerOf(pfn: number): OwnerRecord | null {
    const stacks = this.model.owners?.stacks ?? {};
    let alloc: TraceBlockEvent | null = null;
    let free: TraceBlockEvent | null = null;
    for (const step of this.steps) {
      if (step.seq > this.position) break;
      const span = step.order >= 0 ? 2 ** step.order : step.npages;
      if (step.pfn < 0 || pfn < step.pfn || pfn >= step.pfn + span) continue;
      if (step.kind === "alloc") {
        alloc = step;
        free = null;
      } else if (step.kind === "free" && alloc !== null && step.pfn === alloc.pfn) free = step;
    }
    if (alloc === null) return null;
    const frames = (h: number): string[] => stacks[String(h)]?.frames ?? (h >= 0 ? [`stack #${h}`] : []);
    const gfp = alloc.event.args?.gfp;
    return {
      headPfn: alloc.pfn,
      npages: alloc.order >= 0 ? 2 ** alloc.order : alloc.npages,
      order: alloc.order,
      gfp: typeof gfp === "string" ? parseInt(gfp, 16) : 0,
      allocSeq: alloc.seq,
      allocStack: frames(alloc.stack),
      owner: String(alloc.event.args?.owner ?? stacks[String(alloc.stack)]?.owner ?? "?"),
      freeSeq: free === null ? null : free.seq,
      freeStack: free === null ? null : frames(free.stack),
    };
  }

  /**
   * For owner colouring, as a live run's worker gives it: per frame of the map (index from the
   * snapshot's basePfn), the index in `names` of the owner of the live allocation covering it, or -1.
   * Built in one pass over the events up to the position and kept until the position moves: asked
   * per block, a scan of every event for each of a large trace's tens of thousands of live blocks took
   * seconds per repaint.
   */
  ownerIds(): OwnerTable {
    if (this.owners !== null && this.owners.seq === this.position) return this.owners.table;
    const stacks = this.model.owners?.stacks ?? {};
    const live = new Map<number, TraceBlockEvent>();
    for (const step of this.steps) {
      if (step.seq > this.position) break;
      if (step.kind === "alloc" && step.pfn >= 0) live.set(step.pfn, step);
      else if (step.kind === "free") live.delete(step.pfn);
    }
    const snap = this.snapshot;
    const table = new OwnerTableBuilder(snap.meta.length);
    for (const alloc of live.values()) {
      const name = String(alloc.event.args?.owner ?? stacks[String(alloc.stack)]?.owner ?? "?");
      table.add(alloc.pfn - snap.basePfn, alloc.order >= 0 ? 2 ** alloc.order : alloc.npages, name);
    }
    this.owners = { seq: this.position, table: table.table };
    return table.table;
  }
}

/** Applies one trace event to state bytes (see the file comment for what is approximate). */
function applyStep(meta: Uint8Array, basePfn: number, step: TraceBlockEvent): void {
  const idx = step.pfn - basePfn;
  if (step.pfn < 0 || idx < 0 || idx >= meta.length) return;
  const o = step.order;
  switch (step.kind) {
    case "alloc":
      if (o >= 0) meta[idx] = (FRAME_ALLOC << STATE_SHIFT) | o;
      else {
        meta[idx] = FRAME_CONTIG_HEAD << STATE_SHIFT;
        meta.fill(FRAME_CONTIG_TAIL << STATE_SHIFT, idx + 1, Math.min(meta.length, idx + step.npages));
      }
      break;
    case "free":
      if (o >= 0) meta[idx] = (FRAME_FREE << STATE_SHIFT) | o;
      else meta.fill(FRAME_FREE << STATE_SHIFT, idx, Math.min(meta.length, idx + step.npages));
      break;
    case "split":
      // A free block of order o + 1 at pfn became two free blocks of order o.
      meta[idx] = (FRAME_FREE << STATE_SHIFT) | o;
      if (idx + 2 ** o < meta.length) meta[idx + 2 ** o] = (FRAME_FREE << STATE_SHIFT) | o;
      break;
    case "merge":
      // Two free buddies of order o - 1 became the free block of order o at pfn.
      meta[idx] = (FRAME_FREE << STATE_SHIFT) | o;
      if (o > 0 && idx + 2 ** (o - 1) < meta.length) meta[idx + 2 ** (o - 1)] = FRAME_TAIL << STATE_SHIFT;
      break;
    default:
      break;
  }
}

function toEvent(step: TraceBlockEvent, e: AllocatorEvent): AllocatorEvent {
  const a = step.event.args ?? {};
  e.kind = step.kind;
  e.seq = step.seq;
  e.record = typeof a.record === "number" ? a.record : -1;
  e.cmd = typeof a.cmd === "number" ? a.cmd : -1;
  e.pfn = step.pfn;
  e.order = step.order;
  e.npages = step.npages;
  e.zone = typeof a.zone === "string" ? ZONE_NAMES.indexOf(a.zone) : -1;
  e.gfp = typeof a.gfp === "string" ? parseInt(a.gfp, 16) : -1;
  e.status = typeof a.status === "number" ? a.status : 0;
  e.eip = typeof a.eip === "string" ? parseInt(a.eip, 16) : 0;
  e.label = typeof a.label === "string" ? a.label : "";
  return e;
}

// Reads a --trace file back (trace.ts) for `buddy86 report`: the snapshots (decoded), the view at the
// --at moment with its live blocks, the page owners' stacks, the timeline rebuilt from the counter
// events, the marks and the summary. A file cut short (a crash, a full disk, `head -c`) still reads:
// complete event lines up to the cut are kept, as the Trace Event Format allows for its array form.

import { ZONE_NAMES } from "../mem/index.js";
import { decodeMeta, type AllocatorSnapshot, type ReservedSpan } from "./snapshot.js";
import type { TimelineData } from "./timeline.js";
import { TRACE_FORMAT_VERSION } from "./trace.js";

/** One Trace Event Format event, as far as we read it. */
export interface TraceEvent {
  name: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid?: number;
  tid?: number;
  s?: string;
  cat?: string;
  args?: Record<string, unknown>;
}

export interface TraceModel {
  otherData: Record<string, unknown>;
  events: TraceEvent[];
  /** True when the file was cut and repaired. */
  truncated: boolean;
  snapshots: AllocatorSnapshot[];
  view: { snapshot: AllocatorSnapshot; at: string; title: string; rows: number[][] } | null;
  owners: { stacks: Record<string, { frames: string[]; owner: string }>; leaks: number[][]; invalidFrees: string } | null;
  summary: Record<string, unknown> | null;
  marks: { seq: number; label: string }[];
  timeline: TimelineData | null;
}

/** Parses the text of a trace; throws Error when it is not a buddy86 trace of a known version. */
export function readTrace(text: string): TraceModel {
  let truncated = false;
  let doc: { otherData?: Record<string, unknown>; traceEvents?: TraceEvent[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    truncated = true;
    doc = JSON.parse(repair(text)) as typeof doc;
  }
  // The file is the user's: JSON of another shape says so in words, not in a TypeError of ours.
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("not a buddy86 trace: the JSON is not an object");
  const otherData = isRecord(doc.otherData) ? doc.otherData : {};
  const version = otherData.buddy86TraceFormat;
  if (version !== TRACE_FORMAT_VERSION) throw new Error(`not a buddy86 trace of format ${TRACE_FORMAT_VERSION} (otherData.buddy86TraceFormat is ${String(version)})`);
  const events = doc.traceEvents ?? [];
  if (!Array.isArray(events) || !events.every(isRecord)) throw new Error("malformed buddy86 trace: traceEvents is not an array of event objects");
  // Every event has a name and, but for metadata, a call number (its ts).
  const bad = events.findIndex((e) => typeof e.name !== "string" || (e.ph !== "M" && !(typeof e.ts === "number" && Number.isFinite(e.ts))));
  if (bad >= 0) throw new Error(`malformed buddy86 trace: event #${bad} has no string name or no numeric ts`);
  const model: TraceModel = { otherData, events, truncated, snapshots: [], view: null, owners: null, summary: null, marks: [], timeline: null };
  events.forEach((e, i) => {
    const args = isRecord(e.args) ? e.args : {};
    try {
      if (e.name === "snapshot" && e.ph === "i") model.snapshots.push(snapshotFromArgs(args));
      else if (e.name === "view" && e.ph === "i") {
        if (!Array.isArray(args.rows) || !args.rows.every((r) => Array.isArray(r))) throw new Error("its rows are not an array of rows");
        model.view = { snapshot: snapshotFromArgs(args), at: String(args.at), title: String(args.title), rows: args.rows as number[][] };
      } else if (e.name === "owners" && e.ph === "i") {
        if (!isRecord(args.stacks)) throw new Error("it has no stack table");
        model.owners = args as TraceModel["owners"];
      } else if (e.name === "summary" && e.ph === "i") model.summary = args;
      else if (e.ph === "X" && e.tid === 1) model.marks.push({ seq: e.ts ?? 0, label: e.name });
    } catch (error) {
      throw new Error(`malformed buddy86 trace: event #${i} (${e.name}): ${(error as Error).message}`);
    }
  });
  model.timeline = timelineFromCounters(events);
  return model;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

/** An array of numbers, or an error naming the field. */
function numbers(a: Record<string, unknown>, field: string): number[] {
  const v = a[field];
  if (!Array.isArray(v) || !v.every((n) => typeof n === "number")) throw new Error(`its ${field} is not an array of numbers`);
  return v as number[];
}

/** Keeps the complete event lines of a cut file and closes the array and the object. */
function repair(text: string): string {
  const marker = '"traceEvents":[';
  const start = text.indexOf(marker);
  if (start < 0) throw new Error("not a trace: no traceEvents array before the cut");
  const kept: string[] = [];
  for (const line of text.slice(start + marker.length).split("\n")) {
    const event = line.endsWith(",") ? line.slice(0, -1) : line;
    if (event.trim() === "") continue;
    try {
      JSON.parse(event);
    } catch {
      break;
    }
    kept.push(event);
  }
  return text.slice(0, start + marker.length) + kept.join(",\n") + "]}";
}

function snapshotFromArgs(a: Record<string, unknown>): AllocatorSnapshot {
  const frameCount = Number(a.frameCount);
  // At most every frame below 4 GiB.
  if (!Number.isInteger(frameCount) || frameCount < 0 || frameCount > 2 ** 20) throw new Error(`its frameCount ${String(a.frameCount)} is not a frame count`);
  return {
    seq: Number(a.seq),
    maxOrder: Number(a.maxOrder),
    basePfn: Number(a.basePfn),
    meta: decodeMeta(String(a.meta), frameCount),
    zoneLo: numbers(a, "zoneLo"),
    zoneHi: numbers(a, "zoneHi"),
    zoneManaged: numbers(a, "zoneManaged"),
    ramPfns: Number(a.ramPfns),
    reserved: Array.isArray(a.reserved) ? (a.reserved as ReservedSpan[]) : [],
  };
}

/** The timeline from the "free frames", "per-CPU frames" and "free blocks ZONE" counters. */
function timelineFromCounters(events: readonly TraceEvent[]): TimelineData | null {
  const frames = events.filter((e) => e.ph === "C" && e.name === "free frames");
  if (frames.length === 0) return null;
  const zoneNames = Object.keys(frames[0]!.args ?? {});
  const zones = zoneNames.map((n) => ZONE_NAMES.indexOf(n));
  const byTs = new Map<number, { pcp?: Record<string, number>; blocks: Record<string, Record<string, number>> }>();
  for (const e of events) {
    if (e.ph !== "C") continue;
    const slot = byTs.get(e.ts ?? 0) ?? { blocks: {} };
    byTs.set(e.ts ?? 0, slot);
    if (e.name === "per-CPU frames") slot.pcp = e.args as Record<string, number>;
    else if (e.name.startsWith("free blocks ")) slot.blocks[e.name.slice("free blocks ".length)] = e.args as Record<string, number>;
  }
  const first = byTs.get(frames[0]!.ts ?? 0)!.blocks[zoneNames[0]!] ?? {};
  const maxOrder = Object.keys(first).length - 1;
  const t: TimelineData = { maxOrder, zones, seq: [], freeFrames: [], pcpFrames: [], freeBlocks: [] };
  for (const f of frames) {
    const slot = byTs.get(f.ts ?? 0)!;
    t.seq.push(f.ts ?? 0);
    t.freeFrames.push(zoneNames.map((n) => Number((f.args ?? {})[n] ?? 0)));
    t.pcpFrames.push(zoneNames.map((n) => Number(slot.pcp?.[n] ?? 0)));
    t.freeBlocks.push(zoneNames.map((n) => Array.from({ length: maxOrder + 1 }, (_, o) => Number(slot.blocks[n]?.[`order ${o}`] ?? 0))));
  }
  return t;
}

/**
 * The blocks live after call `seq`, rebuilt from the trace's alloc and free events, as view rows
 * ([pfn, npages, order, gfp, stack, allocSeq, icount]). Null when the events were cut (by
 * --trace-limit, or a truncated file) at or before that call, so the answer would be incomplete.
 */
export function liveRowsAt(model: TraceModel, seq: number): number[][] | null {
  // Events are complete for the calls before `completeBefore`: the first call whose events the limit
  // dropped, or, in a cut file without its summary, the last call with an event read.
  let completeBefore = Infinity;
  if (model.summary !== null) {
    const firstDropped = Number(model.summary.firstDroppedSeq ?? -1);
    if (firstDropped >= 0) completeBefore = firstDropped;
  } else {
    completeBefore = model.events.reduce((m, e) => (e.ph === "i" && e.tid === 2 ? Math.max(m, e.ts ?? 0) : m), 0);
  }
  if (seq >= completeBefore) return null;
  const live = new Map<number, number[]>();
  const num = (v: unknown, dflt: number): number => (v === undefined ? dflt : typeof v === "string" ? parseInt(v, 16) : Number(v));
  for (const e of model.events) {
    if (e.ph !== "i" || (e.ts ?? 0) > seq || (e.name !== "alloc" && e.name !== "free")) continue;
    const a = e.args ?? {};
    const pfn = num(a.pfn, -1);
    if (e.name === "free") live.delete(pfn);
    else live.set(pfn, [pfn, num(a.npages, 0), num(a.order, -1), num(a.gfp, 0), num(a.stack, -1), e.ts ?? 0, num(a.icount, 0)]);
  }
  return [...live.values()].sort((x, y) => x[5]! - y[5]! || x[0]! - y[0]!);
}

/**
 * The last call a trace covers: the run's last from its summary, or for a trace cut before its
 * summary the latest call any kept event names (-1 for none).
 */
export function traceLastSeq(model: TraceModel): number {
  if (model.summary !== null) return Number(model.summary.calls ?? 0) - 1;
  let last = -1;
  for (const e of model.events) if (e.ph !== "M" && (e.ts ?? -1) > last) last = e.ts!;
  return last;
}

/**
 * The call a moment names in a trace (peak from its summary, a MARK from its slices, a call the
 * trace covers), or null. A call past the run's end is none, as `buddy86 boot --at` says.
 */
export function traceMomentSeq(model: TraceModel, at: { kind: "peak" } | { kind: "mark"; label: string } | { kind: "call"; seq: number }): number | null {
  if (at.kind === "call") return at.seq <= traceLastSeq(model) ? at.seq : null;
  if (at.kind === "mark") return model.marks.find((m) => m.label === at.label)?.seq ?? null;
  const peak = Number(model.summary?.peakSeq ?? -1);
  return peak >= 0 ? peak : null;
}

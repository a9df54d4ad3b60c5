// `buddy86 report FILE.json`: re-renders the reports and pictures of a run from its --trace file,
// without running it again: /proc-style reports from the last full snapshot, the per-order counters,
// page owners at the trace's --at moment, leaks and invalid frees, and --map/--frag pictures. A trace
// that was cut short still gives everything up to its last complete snapshot.

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { AllocatorSnapshot } from "../observe/index.js";
import {
  buildMapModel,
  formatLeaks,
  formatLiveOwners,
  formatOrderCounters,
  formatProcReports,
  liveRowsAt,
  parseAt,
  readTrace,
  traceLastSeq,
  traceMomentSeq,
  renderFragSvg,
  renderMapSvg,
  type OrderCountersData,
  type OwnerTable,
  type TraceModel,
} from "../observe/index.js";
import { UsageError, checkOutputPath } from "./options.js";
import { writePicture } from "./observe-flags.js";

interface ReportFlags {
  owners?: boolean;
  /** A moment other than the trace's own view: the nearest snapshot at or before it. */
  at?: string;
  map?: string;
  frag?: string;
}

/**
 * A trace summary's per-order counters. Traces written before 2026-11-26 name the protocol-error
 * event count `protocolErrors`, the run report's name for port misuse alone.
 */
function countersOf(raw: unknown): OrderCountersData {
  const c = raw as OrderCountersData & { protocolErrors?: number };
  return c.protocolErrorEvents === undefined && c.protocolErrors !== undefined ? { ...c, protocolErrorEvents: c.protocolErrors } : c;
}

/** Why a trace has no view: the file was cut before its end, or the run never had an allocator. */
function whyNoView(model: TraceModel): string {
  if (model.truncated || model.summary === null) return "cut before its end";
  return model.snapshots.length === 0 ? "the run never completed MEMMAP, so it had no allocator" : "no snapshot was taken at its --at moment";
}

/** Adds `report FILE.json` to the program. */
export function addReportCommand(program: Command): void {
  program
    .command("report")
    .description("re-render reports and pictures from a saved --trace file without rerunning the guest")
    .argument("<trace.json>", "a trace written by buddy86 boot --trace")
    .option("--owners", "print the page owners at the trace's --at moment")
    .option("--at <moment>", "look at another moment (peak, mark:LABEL, call:N): owners after that call, the map of the nearest full snapshot at or before it")
    .option("--map <file.svg|file.png>", "picture of physical memory at the trace's --at moment")
    .option("--frag <file.svg|file.png>", "chart of the unusable free space index over the run")
    .action(async (file: string, flags: ReportFlags) => {
      process.exitCode = await runReport(file, flags, (text) => console.log(text));
    });
}

/** Rows of the trace's [pfn, npages, order, gfp, stack, allocSeq, icount] lists as an owner table. */
function tableOf(rows: readonly number[][]): OwnerTable {
  return {
    row: (r) => {
      const [pfn, npages, order, gfp, allocStack, allocSeq, allocIcount] = rows[r]!;
      // The trace keeps live rows only: nothing was freed.
      return { pfn: pfn!, npages: npages!, order: order!, gfp: gfp!, allocStack: allocStack!, allocSeq: allocSeq!, allocIcount: allocIcount!, freeStack: -1, freeSeq: -1, freeIcount: -1 };
    },
  };
}

/**
 * A moment's map (a full snapshot, with its owners for colours) and its page owners, which the
 * trace's alloc and free events give at the exact call even between two snapshots.
 */
type ReportView = { snapshot: AllocatorSnapshot; title: string; rows: number[][] | null; owners?: { title: string; rows: number[][] | null } };

/**
 * The moment `--at` names in the trace, resolved before anything is printed (a bad one is a usage
 * error with no report): the trace's own view when it is that moment (a run's peak, say, whatever
 * the snapshots), else the nearest full snapshot at or before it for the map, and the owners the
 * events give at the call itself.
 */
function resolveAt(model: TraceModel, spec: string): { view: ReportView; line: string } {
  let at;
  try {
    at = parseAt(spec);
  } catch (e) {
    throw new UsageError(`--at: ${(e as Error).message}`);
  }
  const seq = traceMomentSeq(model, at);
  if (seq === null) {
    const last = traceLastSeq(model);
    const what = at.kind === "call" ? `no call ${at.seq} in this trace (${last >= 0 ? `its calls are 0 to ${last}` : "it has no call"}${model.summary === null ? ", as far as it was written" : ""})` : "no such moment in this trace";
    throw new UsageError(`--at ${spec}: ${what}`);
  }
  if (model.view !== null && model.view.snapshot.seq === seq) return { view: model.view, line: `== --at ${spec}: call ${seq}, the trace's own view` };
  const snap = [...model.snapshots].reverse().find((s) => s.seq <= seq);
  if (snap === undefined) throw new UsageError(`--at ${spec}: no snapshot at or before call ${seq} (snapshots: ${model.snapshots.map((s) => s.seq).join(", ") || "none"})`);
  const rows = liveRowsAt(model, snap.seq);
  const owners = liveRowsAt(model, seq);
  return {
    view: {
      snapshot: snap,
      title: `after call ${snap.seq} (the trace's nearest snapshot at or before ${spec})`,
      rows,
      owners: { title: `after call ${seq} (from the trace's alloc and free events)`, rows: owners },
    },
    line:
      `== --at ${spec}: call ${seq}; the map is the nearest full snapshot, after call ${snap.seq}` +
      (owners === null ? "; owners unknown there (the trace's events were cut before it)" : "; the owners are those after the call itself"),
  };
}

/** Runs the report; returns the process exit code. Throws UsageError for an unreadable trace. */
export async function runReport(file: string, flags: ReportFlags, print: (text: string) => void): Promise<number> {
  for (const [flag, out] of [["--map", flags.map], ["--frag", flags.frag]] as const) if (out !== undefined) checkOutputPath(flag, out, [".svg", ".png"]);
  let model: TraceModel;
  try {
    model = readTrace(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  const atView = flags.at !== undefined ? resolveAt(model, flags.at) : null;
  const o = model.otherData;
  print(`== trace ${file}: format ${String(o.buddy86TraceFormat)}, cmdline "${String(o.cmdline ?? "")}", ${String(o.memoryBytes)} bytes of RAM${model.truncated ? " (cut short: read up to the last complete event)" : ""}`);
  const last = model.snapshots[model.snapshots.length - 1];
  if (last !== undefined) print(formatProcReports(last, `reports from the snapshot after call ${last.seq}`).replace(/\n+$/, ""));
  else print("no snapshot in this trace: no /proc reports");
  const summary = model.summary;
  if (summary !== null) {
    if (summary.counters !== null && summary.counters !== undefined) print(formatOrderCounters(countersOf(summary.counters)).replace(/\n+$/, ""));
    const dropped = Object.entries((summary.dropped as Record<string, number>) ?? {}).map(([k, n]) => `${k} ${n}`);
    const peak = Number(summary.peakSeq) >= 0 ? `peak ${String(summary.peakFrames)} frames live after call ${String(summary.peakSeq)}` : "no allocation";
    print(`run ended: ${String(summary.reason)}, exit code ${String(summary.exitCode)}, ${String(summary.calls)} calls; ${peak}` + (dropped.length > 0 ? `; events beyond --trace-limit ${String(summary.limit)}: ${dropped.join(", ")}` : ""));
  }
  const stacks = model.owners?.stacks ?? {};
  const stackText = (h: number): string[] => stacks[String(h)]?.frames ?? [`stack ${h} (not in this trace)`];
  // The moment of the owners and the map: the trace's view, or the one --at names.
  const view: ReportView | null = atView !== null ? atView.view : model.view;
  if (atView !== null) print(atView.line);
  if (flags.owners === true) {
    const owners = view?.owners ?? view;
    if (owners === null) print(`no view in this trace (${whyNoView(model)}): no page owners`);
    else if (owners.rows === null) print(`no page owners ${owners.title}: the trace's events were cut before it`);
    else print(formatLiveOwners(tableOf(owners.rows), owners.rows.map((_, i) => i), stackText, owners.title).replace(/\n+$/, ""));
  }
  if (model.owners !== null) {
    const leaks = formatLeaks(tableOf(model.owners.leaks), model.owners.leaks.map((_, i) => i), stackText);
    if (leaks !== "") print(leaks.replace(/\n+$/, ""));
    if (model.owners.invalidFrees !== "") print(model.owners.invalidFrees.replace(/\n+$/, ""));
  }
  if (flags.map !== undefined) {
    const snap = view?.snapshot ?? last;
    if (snap === undefined) throw new UsageError(`${file}: no snapshot to draw a map from`);
    const blocks = (view?.rows ?? []).map((r) => ({ pfn: r[0]!, npages: r[1]!, owner: stacks[String(r[4])]?.owner ?? "unknown" }));
    const title = view !== null ? `buddy86 physical memory ${view.title}` : `buddy86 physical memory after call ${snap.seq} (owners unknown: the trace was cut)`;
    await writePicture(flags.map, renderMapSvg(buildMapModel(snap, blocks, title)));
    print(`wrote ${flags.map}`);
  }
  if (flags.frag !== undefined) {
    if (model.timeline === null) throw new UsageError(`${file}: no counter events to chart`);
    await writePicture(flags.frag, renderFragSvg(model.timeline, model.marks, `buddy86 fragmentation over the run (${String(o.cmdline ?? "")})`));
    print(`wrote ${flags.frag}`);
  }
  return 0;
}

// The end-of-run report of `buddy86 boot`: a human summary (exit, calls, statuses, buddyinfo, frames,
// timings) and the stable JSON object of `--json` (versioned by `schema`).

import type { MachineResult } from "../machine/index.js";
import type { BuddyAllocator } from "../mem/index.js";

export const REPORT_SCHEMA = 1;

/** The `--json` object. Field names are a contract for scripts; add fields, never rename. */
export interface BootReport {
  schema: number;
  exitCode: number | null;
  reason: MachineResult["reason"];
  message: string;
  memoryBytes: number;
  maxOrder: number | null;
  managedPages: number | null;
  freePages: number | null;
  calls: Record<string, number>;
  records: Record<string, number>;
  statuses: Record<string, number>;
  protocolErrors: number;
  buddyinfo: string | null;
  zones: { name: string; startPfn: number; endPfn: number; managed: number; free: number; pcp: number; freeBlocks: number[] }[];
  marks: { label: string; seq: number }[];
  wallMs: number;
  guestMs: number;
  bridgeNsPerCall: number | null;
  memoryGrowths: number;
  bootLog: string[];
  guestLog: string;
}

export function buildReport(result: MachineResult): BootReport {
  const c = result.counters;
  const buddy = result.allocator;
  const calls: Record<string, number> = { ...c.calls };
  if (c.unknownCalls > 0) calls.unknown = c.unknownCalls;
  const records: Record<string, number> = { ...c.records };
  if (c.unknownRecords > 0) records.unknown = c.unknownRecords;
  return {
    schema: REPORT_SCHEMA,
    exitCode: result.exitCode,
    reason: result.reason,
    message: result.message,
    memoryBytes: result.memoryBytes,
    maxOrder: buddy?.maxOrder ?? null,
    managedPages: buddy?.managedPageCount ?? null,
    freePages: buddy?.freePageCount ?? null,
    calls,
    records,
    statuses: { ...c.statuses },
    protocolErrors: c.protocolErrors,
    buddyinfo: buddy?.buddyinfo() ?? null,
    // The allocator's zones() and, per zone, the frames its per-CPU cache holds.
    zones: buddy === null ? [] : zonesWithPcp(buddy),
    marks: result.marks.map((m) => ({ label: m.label, seq: m.seq })),
    wallMs: round(result.wallMs, 3),
    guestMs: round(result.guestMs, 3),
    bridgeNsPerCall: result.bridgeNsPerCall === null ? null : round(result.bridgeNsPerCall, 1),
    memoryGrowths: result.memoryGrowths,
    bootLog: result.bootLog,
    guestLog: result.guestLog,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** zones() with, per zone, the frames the per-CPU cache holds (pcpFrames(), in the same order). */
function zonesWithPcp(buddy: BuddyAllocator): BootReport["zones"] {
  const pcp = buddy.pcpFrames();
  return buddy.zones().map((z, k) => ({ ...z, pcp: pcp[k]! }));
}

/** Non-zero entries as "NAME n" pairs, or "none". */
function nonZero(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

/** The human summary printed after the logs. */
export function formatSummary(r: BootReport): string {
  const lines: string[] = [];
  const exit = r.exitCode === null ? "none" : `${r.exitCode} (0x${r.exitCode.toString(16)})`;
  lines.push(`== buddy86 run: ${r.reason}: ${r.message}`);
  lines.push(`guest exit code: ${exit}`);
  lines.push(`calls:    ${nonZero(r.calls)}`);
  if (Object.values(r.records).some((n) => n > 0)) lines.push(`records:  ${nonZero(r.records)}`);
  lines.push(`statuses: ${nonZero(r.statuses)}`);
  if (r.protocolErrors > 0) lines.push(`protocol errors: ${r.protocolErrors}`);
  if (r.buddyinfo !== null) {
    lines.push("/proc/buddyinfo:");
    // Exactly the file but its last newline (each line of /proc/buddyinfo ends in "%6lu " then "\n").
    lines.push(r.buddyinfo.replace(/\n$/, ""));
    lines.push(`free frames: ${r.freePages} of ${r.managedPages} managed (max order ${r.maxOrder})`);
  } else {
    lines.push("no allocator: the guest never completed MEMMAP");
  }
  const ns = r.bridgeNsPerCall === null ? "n/a" : `${r.bridgeNsPerCall.toFixed(1)} ns`;
  lines.push(`wall time: ${r.wallMs.toFixed(1)} ms (guest ${r.guestMs.toFixed(1)} ms); per bridge call: ${ns}`);
  return lines.join("\n");
}

/** The process exit code for a run: 0 guest EXIT 0, 1 other EXIT, 2 host error, 3 timeout or fault. */
export function processExitCode(result: MachineResult): number {
  if (result.reason === "exit") return result.exitCode === 0 ? 0 : 1;
  if (result.reason === "host-error") return 2;
  return 3;
}

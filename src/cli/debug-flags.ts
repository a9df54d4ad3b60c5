// The debugging flags of `buddy86 boot`: --poison, --init-on-free, --init-on-alloc, the --fail-*
// family, --event-tail, and snapshots (--save-state FILE --save-at-call N, --restore-state FILE).
// main.ts adds the options with addDebugOptions() and wires one DebugRun into runMachine; the tools
// live in src/debug, the snapshot file format in snapshot.ts.
//
// A restored run takes its settings (RAM size, cmdline, allocator options, debug options) from the
// snapshot. --memory and --kernel may be given and must match (the "memory size" and "kernel"
// checks); any other run-defining flag is refused, since the snapshot already fixed it. A run that
// saves or restores is always observed with a page owner (main.ts): the file carries its records and
// stacks, and a restored run goes on with them, so --owners after a restore names blocks allocated
// before the checkpoint as the uninterrupted run does.

import { readFileSync, writeFileSync } from "node:fs";
import { Option, type Command } from "commander";
import type { MachineCheckpoint } from "../debug/checkpoint.js";
import { formatTail } from "../debug/event-tail.js";
import { validateFaultOptions, type FaultOptions } from "../debug/fault-inject.js";
import { DebugSession, type DebugOptions } from "../debug/session.js";
import { kernelElfOrNull, type MachineOptions, type MachineResult } from "../machine/index.js";
import type { PcpOptions } from "../mem/index.js";
import type { ObserveSession } from "../observe/session.js";
import { UsageError, givenOption, parseCount } from "./options.js";
import { SnapshotError, checkSnapshotFits, decodeSnapshot, encodeSnapshot, type Snapshot, type SnapshotSettings } from "./snapshot.js";

export interface DebugFlags {
  poison?: boolean;
  poisonAction: string;
  initOnFree?: boolean;
  initOnAlloc?: boolean;
  failNth?: string;
  failEvery?: string;
  failOrder?: string;
  failProbability?: string;
  failSite?: string;
  eventTail?: string;
  saveState?: string;
  saveAtCall?: string;
  restoreState?: string;
}

/** Exit code of a run whose guest wrote memory it had freed (poison found it). */
export const EXIT_POISON = 4;

/** Flags that define the run a snapshot was taken of: refused with --restore-state. */
const RUN_FLAGS = ["cmdline", "workload", "seed", "ops", "maxOrder", "pcp", "pcpHigh", "pcpBatch", "poison", "poisonAction", "initOnFree", "initOnAlloc", "failNth", "failEvery", "failOrder", "failProbability", "failSite", "eventTail"];
/**
 * Observability flags a restored run refuses: a trace, the pictures and --at rebuild the allocator
 * by replaying every request since MEMMAP (or chart the whole run's timeline), and a restored run
 * started at the checkpoint. --owners and the reports work: the page owner's records, the per-order
 * counters and warn_alloc's reports come with the snapshot.
 */
const OBSERVE_FLAGS = ["trace", "map", "frag", "at"];

let bootCommand: Command | null = null;

/** Adds the debugging options to the boot command. */
export function addDebugOptions(cmd: Command): Command {
  bootCommand = cmd;
  return cmd
    .option("--poison", "fill freed blocks with 0xaa and verify the pattern when they are handed out again (use after free)")
    .addOption(new Option("--poison-action <action>", "on a poison mismatch: report it and go on, or stop the run").choices(["report", "stop"]).default("report"))
    .option("--init-on-free", "zero blocks when they are freed (Linux init_on_free)")
    .option("--init-on-alloc", "zero blocks when they are handed out (Linux init_on_alloc)")
    .option("--fail-nth <n>", "fault injection: fail the n-th allocation (ENOMEM)")
    .option("--fail-every <n>", "fault injection: fail every n-th allocation")
    .option("--fail-order <k>", "fault injection: only allocations of order >= k are candidates")
    .option("--fail-probability <p>", "fault injection: fail each candidate with probability p (seeded by --seed)")
    .option("--fail-site <symbol>", "fault injection: only allocations whose guest call stack has this function")
    .option("--event-tail <n>", "print the last n allocator events at the end")
    .option("--save-state <file>", "save the whole run (v86, allocator, page owners, counters, settings) after call --save-at-call")
    .option("--save-at-call <n>", "the call after which --save-state saves")
    .option("--restore-state <file>", "continue a run saved with --save-state (its settings come from the file)");
}

/** The debug options the flags ask for; throws UsageError naming a bad value. */
export function debugOptionsFrom(flags: DebugFlags, seed: string | undefined): DebugOptions {
  const fault: FaultOptions = {};
  if (flags.failNth !== undefined) fault.failNth = parseCount("--fail-nth", flags.failNth);
  if (flags.failEvery !== undefined) fault.failEvery = parseCount("--fail-every", flags.failEvery);
  if (flags.failOrder !== undefined) fault.failOrder = parseCount("--fail-order", flags.failOrder);
  if (flags.failProbability !== undefined) {
    const p = Number(flags.failProbability);
    if (!/^\s*[0-9.eE+-]+\s*$/.test(flags.failProbability) || !(p >= 0 && p <= 1)) throw new UsageError(`bad --fail-probability "${flags.failProbability}": use a number from 0 to 1`);
    fault.failProbability = p;
    fault.seed = seed !== undefined ? parseCount("seed", seed) : 1;
  }
  if (flags.failSite !== undefined) fault.failSite = flags.failSite;
  try {
    validateFaultOptions(fault);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const options: DebugOptions = { fault };
  if (flags.poison === true) options.poison = true;
  if (flags.poisonAction === "stop") options.poisonAction = "stop";
  if (flags.initOnFree === true) options.initOnFree = true;
  if (flags.initOnAlloc === true) options.initOnAlloc = true;
  if (flags.eventTail !== undefined) {
    const n = parseCount("--event-tail", flags.eventTail);
    if (n < 1 || n > 1 << 20) throw new UsageError(`bad --event-tail ${n}: use 1..1048576`);
    options.eventTail = n;
  }
  return options;
}

/**
 * --fail-site matches the function names of the guest's backtraces, which come from the kernel's
 * symbol table: a name the kernel does not have, or a kernel without symbols, would match nothing
 * and the run would inject no failure without saying so. Refused instead, with the nearest names.
 */
function checkFailSite(name: string, kernel: Uint8Array): void {
  const symbols = kernelElfOrNull(kernel)?.symbols ?? [];
  if (symbols.length === 0) throw new UsageError(`--fail-site ${name}: the kernel has no symbol table, so no backtrace can name a function (link it with symbols, or pick failures with --fail-nth, --fail-every or --fail-order)`);
  if (symbols.some((s) => s.kind === "func" && s.name === name)) return;
  const lower = name.toLowerCase();
  const functions = [...new Set(symbols.filter((s) => s.kind === "func").map((s) => s.name))];
  const near = functions.filter((f) => f.toLowerCase().includes(lower) || editDistance(f.toLowerCase(), lower) <= 2).slice(0, 6);
  throw new UsageError(`--fail-site ${name}: the kernel has no function of that name${near.length > 0 ? ` (did you mean ${near.join(", ")}?)` : ""}`);
}

/** Levenshtein distance (insertions, deletions, substitutions), for "did you mean". */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** What the run is, as main.ts parsed it. */
export interface DebugContext {
  kernel: Uint8Array;
  cmdline: string;
  memoryBytes: number;
  maxOrder: number;
  pcp: PcpOptions;
  seed: string | undefined;
  json: boolean;
  quiet: boolean;
  /** Where text goes (stdout). */
  print: (text: string) => void;
}

/** One boot's debugging: the session, the snapshot to restore or to write, the report. */
export class DebugRun {
  readonly session: DebugSession;
  /** The snapshot being restored, or null. */
  readonly restored: Snapshot | null = null;
  private readonly settings: SnapshotSettings;
  private saved: { calls: number; bytes: number } | null = null;
  private saveError: string | null = null;
  /** The observed run's session (main.ts observes every run that saves or restores). */
  private observe: ObserveSession | null = null;

  constructor(
    private readonly flags: DebugFlags,
    private readonly ctx: DebugContext,
  ) {
    if (flags.restoreState !== undefined) {
      this.restored = this.loadSnapshot(flags.restoreState);
      this.settings = this.restored.header.settings;
    } else {
      this.settings = { cmdline: ctx.cmdline, memoryBytes: ctx.memoryBytes, maxOrder: ctx.maxOrder, pcp: ctx.pcp, debug: debugOptionsFrom(flags, ctx.seed) };
      if (flags.failSite !== undefined) checkFailSite(flags.failSite, ctx.kernel);
    }
    if ((flags.saveState === undefined) !== (flags.saveAtCall === undefined)) throw new UsageError("--save-state and --save-at-call go together");
    if (flags.saveAtCall !== undefined) {
      const at = parseCount("--save-at-call", flags.saveAtCall);
      const from = this.restored?.header.atCall ?? 0;
      if (at <= from) throw new UsageError(`--save-at-call ${at}: use a call after ${from}`);
    }
    this.session = new DebugSession(this.settings.debug);
    if (!ctx.json && !ctx.quiet) this.session.onPoison = (v) => ctx.print(v.message);
  }

  /** True when the flags ask for anything here (else main.ts leaves the machine alone). */
  static requested(flags: DebugFlags): boolean {
    return (
      flags.poison === true || flags.initOnFree === true || flags.initOnAlloc === true || flags.failNth !== undefined || flags.failEvery !== undefined ||
      flags.failOrder !== undefined || flags.failProbability !== undefined || flags.failSite !== undefined || flags.eventTail !== undefined ||
      flags.saveState !== undefined || flags.saveAtCall !== undefined || flags.restoreState !== undefined
    );
  }

  /**
   * Lets poison reports and --fail-site use issue 5's page owner and stacks, and snapshots save them.
   * A restored run's session gets the snapshot's stacks and records here, before the guest runs.
   */
  useOwners(observe: ObserveSession): void {
    this.session.owners = observe;
    this.observe = observe;
    const r = this.restored;
    if (r !== null) {
      if (observe.owner === null) throw new Error("invariant: a restored run is observed without a page owner");
      const saved = r.observe;
      // The records index the frames of the allocator they were taken with: the checkpoint's.
      const buddy = r.checkpoint.bridge.allocator;
      const frames = saved.owner.frameRow.length;
      if (frames > 0 && (buddy === null || buddy.basePfn !== saved.owner.basePfn || buddy.frameCount !== frames))
        throw new Error(`invariant: the snapshot's page-owner records cover frames ${saved.owner.basePfn}+${frames}, its allocator ${buddy === null ? "none" : `${buddy.basePfn}+${buddy.frameCount}`}`);
      observe.hub.depot.setState(saved.depot);
      observe.owner.setState(saved.owner);
      observe.counters.setState(saved.counters);
      observe.warn.setState(saved.warn);
      observe.hub.continueIcountFrom(saved.icount);
    }
  }

  /**
   * The machine options this run adds or overrides: the allocator hook, the checkpoint, and for a
   * restored run the snapshot's RAM size, cmdline and allocator options.
   */
  machineOptions(): Partial<MachineOptions> {
    const out: Partial<MachineOptions> = {};
    if (this.session.active) out.onAllocator = this.session.onAllocator;
    const r = this.restored;
    if (r !== null) {
      out.restoreFrom = r.checkpoint;
      out.memoryBytes = r.header.memoryBytes;
      out.cmdline = this.settings.cmdline;
      out.maxOrder = this.settings.maxOrder;
      out.pcp = this.settings.pcp;
      this.session.restoreOnAttach(r.debug);
      out.onAllocator = this.session.onAllocator;
    }
    const path = this.flags.saveState;
    if (path !== undefined) {
      out.checkpointAtCall = parseCount("--save-at-call", this.flags.saveAtCall!);
      out.onCheckpoint = (cp) => this.save(path, cp);
    }
    return out;
  }

  /** After the run: prints what the tools found (unless --json) and returns the `debug` JSON object. */
  finish(result: MachineResult): Record<string, unknown> {
    const report = this.session.report();
    const print = (text: string): void => {
      if (!this.ctx.json && text !== "") this.ctx.print(text);
    };
    if (report.poison !== null && report.poison.violations > 0) {
      // Live runs printed each report as it was found; quiet ones print them now.
      if (this.ctx.quiet) for (const v of report.poison.reports) print(v.message);
      print(`poison: ${report.poison.violations} use-after-free report(s)`);
    }
    if (report.faults !== null) print(`fault injection: ${report.faults.injected} of ${report.faults.attempts} allocations failed on purpose (${report.faults.candidates} candidates)`);
    if (report.eventTail !== null) print(`last ${report.eventTail.length} allocator events:\n${formatTail(report.eventTail)}`);
    if (this.saved !== null) print(`saved state after call ${this.saved.calls} to ${this.flags.saveState} (${this.saved.bytes} bytes)`);
    if (this.flags.saveState !== undefined && this.saved === null) {
      const why = this.saveError ?? `the run ended after ${result.counters.totalCalls} calls, before call ${this.flags.saveAtCall}`;
      console.error(`buddy86: --save-state: nothing saved: ${why}`);
    }
    return {
      settings: this.settings.debug,
      restoredFrom: this.restored === null ? null : { file: this.flags.restoreState, atCall: this.restored.header.atCall },
      saved: this.saved === null ? null : { file: this.flags.saveState, atCall: this.saved.calls, bytes: this.saved.bytes },
      poison: report.poison === null ? null : { violations: report.poison.violations, reports: report.poison.reports.map((v) => ({ ...v })) },
      faults: report.faults,
      eventTail: report.eventTail,
    };
  }

  /**
   * The process exit code: EXIT_POISON when poison found a use after free in a run that would
   * otherwise exit 0 or 1; 2 when a requested --save-state saved nothing; else the run's code.
   */
  exitCode(code: number): number {
    if (this.flags.saveState !== undefined && this.saved === null) return 2;
    const poison = this.session.poison;
    if (poison !== null && poison.violationCount > 0 && code <= 1) return EXIT_POISON;
    if (poison !== null && poison.violationCount > 0 && code === 3 && this.settings.debug.poisonAction === "stop") return EXIT_POISON;
    return code;
  }

  private save(path: string, checkpoint: MachineCheckpoint): void {
    const observe = this.observe;
    if (observe === null || observe.owner === null) throw new Error("invariant: --save-state in a run observed without a page owner");
    const saved = {
      depot: observe.hub.depot.getState(),
      owner: observe.owner.getState(),
      counters: observe.counters.getState(),
      warn: observe.warn.getState(),
      icount: observe.hub.icountNow(),
    };
    try {
      const bytes = encodeSnapshot(this.ctx.kernel, this.settings, checkpoint, this.session.saveState(), saved);
      writeFileSync(path, bytes);
      this.saved = { calls: checkpoint.calls, bytes: bytes.length };
    } catch (e) {
      this.saveError = `cannot write ${path}: ${(e as Error).message}`;
    }
  }

  /** Reads and checks the snapshot against this run; UsageError naming the failed check. */
  private loadSnapshot(path: string): Snapshot {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new UsageError(`--restore-state ${path}: ${(e as Error).message}`);
    }
    try {
      const snapshot = decodeSnapshot(bytes);
      const explicit = (name: string): boolean => bootCommand !== null && givenOption(bootCommand, name);
      checkSnapshotFits(snapshot, this.ctx.kernel, explicit("memory") ? this.ctx.memoryBytes : snapshot.header.memoryBytes);
      const clash = RUN_FLAGS.find(explicit);
      if (clash !== undefined) throw new UsageError(`--restore-state: --${kebab(clash)} cannot be given: the snapshot fixes the run's settings`);
      const observe = OBSERVE_FLAGS.find(explicit);
      if (observe !== undefined) throw new UsageError(`--restore-state: --${kebab(observe)} is not supported on a restored run yet`);
      return snapshot;
    } catch (e) {
      if (e instanceof SnapshotError) throw new UsageError(`--restore-state ${path}: ${e.message}; nothing was run`);
      throw e;
    }
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

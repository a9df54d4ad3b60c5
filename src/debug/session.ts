// One run's debug tools, built from the debug flags: the poison checker (with init_on_free /
// init_on_alloc), the fault injector and the event tail. `onAllocator` is the machine's hook
// (MachineOptions.onAllocator): when MEMMAP (or a restored checkpoint) has built the allocator it
// attaches the listeners and the fail predicate, ties them to the guest (call number, EIP, stack,
// symbols) and, for a restored run, puts back the state they had at the checkpoint. With an observe
// session (issue 5's page owner) the sites in poison reports and --fail-site come from its stacks.

import { fanOutListener, type BuddyAllocator, type BuddyListener } from "../mem/index.js";
import { symbolize } from "../machine/elf.js";
import { RamWords, Symbolizer, codeRanges, walkStack, type EventHub, type OwnerIndex } from "../observe/index.js";
import type { AllocatorHook, RunContext } from "./checkpoint.js";
import { EventTail, type EventTailState, type TailEvent } from "./event-tail.js";
import { FaultInjector, faultsRequested, type FaultOptions, type FaultState, type InjectedFailure } from "./fault-inject.js";
import { PoisonChecker, type CallSource, type PoisonAction, type PoisonState, type PoisonViolation } from "./poison.js";

const REG_EBP = 5;
const STACK_DEPTH = 16;

/** The debug settings of a run (also stored in snapshots, so a restored run keeps them). */
export interface DebugOptions {
  poison?: boolean;
  poisonAction?: PoisonAction;
  initOnFree?: boolean;
  initOnAlloc?: boolean;
  fault?: FaultOptions;
  /** Keep the last N allocator events (0 or absent: none). */
  eventTail?: number;
}

export interface DebugState {
  poison: PoisonState | null;
  faults: FaultState | null;
  tail: EventTailState | null;
}

/** What the run's report gets (`debug` in --json). */
export interface DebugReport {
  poison: { violations: number; reports: PoisonViolation[] } | null;
  faults: { attempts: number; candidates: number; injected: number; failures: InjectedFailure[] } | null;
  eventTail: TailEvent[] | null;
}

/** An observe session's page owner, for naming poison sites and walking stacks once per call. */
export interface OwnerSource {
  hub: EventHub;
  owner: OwnerIndex | null;
  sym: Symbolizer;
}

export class DebugSession {
  poison: PoisonChecker | null = null;
  faults: FaultInjector | null = null;
  tail: EventTail | null = null;
  /** Set before the run to name sites through issue 5's page owner. */
  owners: OwnerSource | null = null;
  /** Told of each recorded poison violation as it is found (the CLI prints it). */
  onPoison: ((v: PoisonViolation) => void) | null = null;
  /** State to put back when the allocator appears (a restored checkpoint). */
  private pending: DebugState | null = null;

  constructor(readonly options: DebugOptions) {}

  /** True when any tool is asked for (else the machine needs no hook at all). */
  get active(): boolean {
    const o = this.options;
    return o.poison === true || o.initOnFree === true || o.initOnAlloc === true || faultsRequested(o.fault ?? {}) || (o.eventTail ?? 0) > 0;
  }

  /** For a restored run: the state saveState() gave at the checkpoint, applied in onAllocator. */
  restoreOnAttach(state: DebugState): void {
    this.pending = state;
  }

  /** MachineOptions.onAllocator. */
  readonly onAllocator: AllocatorHook = (allocator, run) => this.attach(allocator, run);

  saveState(): DebugState {
    return { poison: this.poison?.getState() ?? null, faults: this.faults?.getState() ?? null, tail: this.tail?.getState() ?? null };
  }

  report(): DebugReport {
    const p = this.poison;
    const f = this.faults;
    return {
      poison: p === null ? null : { violations: p.violationCount, reports: p.violations },
      faults: f === null ? null : { attempts: f.attempts, candidates: f.candidates, injected: f.injected, failures: f.log },
      eventTail: this.tail?.events() ?? null,
    };
  }

  private attach(allocator: BuddyAllocator, run: RunContext): void {
    const o = this.options;
    const bridge = run.bridge;
    const guest = run.guest;
    const source: CallSource = { seq: () => bridge.seq - 1, eip: () => (guest === null ? 0 : guest.eip) };
    const listeners: BuddyListener[] = [];
    if (o.poison === true || o.initOnFree === true || o.initOnAlloc === true) {
      const poison = new PoisonChecker(allocator, source, {
        poison: o.poison === true,
        initOnFree: o.initOnFree === true,
        initOnAlloc: o.initOnAlloc === true,
        action: o.poisonAction ?? "report",
      });
      const elf = run.elf;
      if (elf !== null) poison.symbolize = (eip) => symbolize(elf, eip);
      poison.resolver = (pfn, kind, seq) => this.ownerSite(pfn, kind, seq);
      const stop = poison.options.action === "stop";
      poison.onViolation = (v) => {
        if (this.onPoison !== null) this.onPoison(v);
        if (stop) run.stop(v.message.split("\n")[0]!);
      };
      this.poison = poison;
      listeners.push(poison);
    }
    if ((o.eventTail ?? 0) > 0) {
      this.tail = new EventTail(o.eventTail!, source);
      listeners.push(this.tail);
    }
    if (faultsRequested(o.fault ?? {})) {
      this.faults = new FaultInjector(o.fault!, source);
      this.faults.stack = this.stackSource(run);
      allocator.failPredicate = this.faults.predicate;
    }
    for (const l of listeners) allocator.listener = allocator.listener === null ? l : fanOutListener(allocator.listener, l);
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) {
      if (pending.poison !== null && this.poison !== null) this.poison.setState(pending.poison);
      if (pending.faults !== null && this.faults !== null) this.faults.setState(pending.faults);
      if (pending.tail !== null && this.tail !== null) this.tail.setState(pending.tail);
    }
  }

  /**
   * The page owner's account of a frame's last owner: its allocation or free stack, when the owner's
   * record is the one poison saw (same allocation call); else undefined (poison prints call and EIP).
   */
  private ownerSite(pfn: number, kind: "alloc" | "free", seq: number): string | undefined {
    const src = this.owners;
    if (src === null || src.owner === null) return undefined;
    const owner = src.owner;
    const row = owner.rowOfFrame(pfn);
    if (row < 0) return undefined;
    const o = owner.row(row);
    const stack = kind === "alloc" ? o.allocStack : o.freeStack;
    const at = kind === "alloc" ? o.allocSeq : o.freeSeq;
    if (stack < 0 || at !== seq) return undefined;
    return `call ${seq}:\n      ${src.sym.formatStack(src.hub.depot, stack).join("\n      ")}`;
  }

  /** The guest's call stack at the current call: the page owner's walk, else one of our own. */
  private stackSource(run: RunContext): () => readonly string[] {
    const src = this.owners;
    if (src !== null) return () => src.sym.formatStack(src.hub.depot, src.hub.currentStack());
    const sym = new Symbolizer(run.elf);
    const code = codeRanges(run.elf);
    const frames = new Uint32Array(STACK_DEPTH);
    const words = new RamWords();
    return () => {
      const g = run.guest;
      if (g === null) return [];
      const depth = walkStack(words.of(run.bridge.guestRam), g.eip, g.reg32[REG_EBP]!, g.cr0, g.cr3, g.cr4, frames, code);
      const out: string[] = [];
      for (let i = 0; i < depth; i++) out.push(sym.format(frames[i]!));
      return out;
    };
  }
}


// An observed fake guest: the bridge over a plain Uint8Array (bridge-fixtures.ts) with an
// ObserveSession as its observer and a fake CPU whose EIP, EBP and control registers the test sets,
// so page owners, stacks and events can be checked call by call without v86.

import { Cmd, Status } from "../src/protocol/abi.js";
import type { GuestRegisters } from "../src/machine/bridge-types.js";
import type { MachineResult } from "../src/machine/index.js";
import { EventRing, ObserveSession, PresentOwner, type EventHub, type ObserveOptions } from "../src/observe/index.js";
import { OwnerArena } from "../src/observe/owner-wasm.js";
import { fakeGuest, MiB, type FakeGuest, type FakeGuestOptions } from "./bridge-fixtures.js";

export const EBP = 5;
/** Where fake stack frames go: inside the reserved kernel image range of the fake guest. */
export const FRAME_AREA = 0x108000;

export interface FakeCpu extends GuestRegisters {
  eip: number;
  instructionCount: number;
  cr0: number;
  cr3: number;
  cr4: number;
}

export interface ObservedGuest {
  g: FakeGuest;
  cpu: FakeCpu;
  session: ObserveSession;
  /** Makes a call from `eip`, with a one-frame chain whose return address is `ret` (0: EBP 0). */
  callAt(eip: number, ret: number, cmd: number, arg0?: number, arg1?: number, arg2?: number): { result: number; status: number };
  /** A MachineResult for session.finish(). */
  result(reason?: MachineResult["reason"]): MachineResult;
  /** What MEMMAP answered. */
  memmap: { result: number; status: number };
}

export function observedGuest(options: Partial<ObserveOptions> = {}, ramBytes = 32 * MiB, entries?: FakeGuestOptions["entries"]): ObservedGuest {
  const session = new ObserveSession({ elf: null, ...options });
  const g = fakeGuest({ ramBytes, observer: session.hub, ...(entries !== undefined ? { entries } : {}) });
  const cpu: FakeCpu = { reg32: g.reg32, eip: 0, instructionCount: 0, cr0: 0, cr3: 0, cr4: 0 };
  session.hub.attachGuest(cpu);
  let slot = 0;
  const callAt = (eip: number, ret: number, cmd: number, arg0 = 0, arg1 = 0, arg2 = 0): { result: number; status: number } => {
    cpu.eip = eip;
    cpu.instructionCount += 1000;
    if (ret === 0) g.reg32[EBP] = 0;
    else {
      // A fresh frame each call (so a stale one never answers for this call).
      const fp = FRAME_AREA + (slot++ % 256) * 16;
      g.dv.setUint32(fp, 0, true);
      g.dv.setUint32(fp + 4, ret, true);
      g.reg32[EBP] = fp;
    }
    return g.bridge.call(cmd, arg0, arg1, arg2);
  };
  const r = callAt(0x100010, 0, Cmd.MEMMAP, 0x7c00, 0x100000, 0x110000);
  if (r.status !== Status.OK) throw new Error(`MEMMAP failed: ${r.status}`);
  const result = (reason: MachineResult["reason"] = "exit"): MachineResult =>
    ({
      exitCode: 0,
      reason,
      message: "",
      error: null,
      guestLog: "",
      bootLog: [],
      counters: g.bridge.counters.snapshot(),
      allocator: g.bridge.allocator,
      memoryMap: g.bridge.memoryMap,
      marks: g.bridge.marks,
      memoryBytes: ramBytes,
      wallMs: 0,
      guestMs: 0,
      bridgeNsPerCall: null,
      memoryGrowths: 0,
    }) as MachineResult;
  return { g, cpu, session, callAt, result, memmap: r };
}

/** "0x%08x" as the reports print unsymbolized addresses. */
export function hex8(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

/**
 * The web page's page owner and the event ring it reads, subscribed to `hub`. With `arenaFrames`,
 * both live in a WebAssembly arena of that many frames (as the page has them) and the catch-up runs
 * there; without, in JavaScript.
 */
export function presentOwnerOf(hub: EventHub, arenaFrames: number | null): { ring: EventRing; owner: PresentOwner } {
  const arena = arenaFrames === null ? null : OwnerArena.create(arenaFrames)!;
  const ring = new EventRing(hub, arena);
  hub.subscribe(ring);
  return { ring, owner: new PresentOwner(hub, ring, undefined, arena) };
}

// How the hub samples the call in progress: its command (EAX), the EIP of its `in`, CR0 and the
// instruction counter, unwrapped past 2^32 (v86's counter is a u32 that wraps within seconds of guest
// time). The hub samples each call once, at its first event or query (event-hub.ts sync). Two
// samplers with one surface: JsCallSampler reads the registers through GuestRegisters; CallSampler
// (call-sampler-wasm.ts) reads them in WebAssembly from v86's own memory, where the page's block
// writer also calls it (owner-wasm.ts). Each owns its unwrapping state, so a hub has one count.

import type { GuestRegisters } from "../machine/bridge.js";
import { REG_EAX, TWO_32 } from "./layout.js";

/** What the hub reads of a call; sample(seq) first. */
export interface CallSampling {
  /** Samples call `seq`, once: a second sample of the same seq reads nothing. */
  sample(seq: number): void;
  /** EAX of the call sampled last (its command), the EIP of its `in`, CR0, its unwrapped instruction count. */
  readonly cmd: number;
  readonly eip: number;
  readonly cr0: number;
  readonly icount: number;
  /** The unwrapped count of a raw u32 counter read after the last sampled one (EventHub.icountNow). */
  unwrap(raw: number): number;
  /**
   * The counter goes on from `icount` at raw value `raw` (a restored checkpoint: v86 restarts its
   * counter), and no call counts as sampled.
   */
  continueFrom(raw: number, icount: number): void;
  /** The next sample reads the registers again, whatever its seq (a port misuse between calls). */
  forgetCall(): void;
}

/**
 * The unwrapped count of raw u32 counter `raw`, read after `lastRaw` with `high` added to that one
 * (the wraps seen). A small step back (JIT jitter) is not a wrap: only a raw value more than 2^31
 * below the last.
 */
export function unwrapCount(raw: number, lastRaw: number, high: number): number {
  return (raw + TWO_32 / 2 < lastRaw ? high + TWO_32 : high) + raw;
}

/** The sampler of a guest whose registers are read through GuestRegisters' views. */
export class JsCallSampler implements CallSampling {
  cmd = 0;
  eip = 0;
  cr0 = 0;
  icount = 0;
  private seq = -1;
  /** The unwrapping's state: the last raw counter and what was added to it (the wraps seen). */
  private lastRaw = 0;
  private high = 0;

  constructor(private readonly guest: GuestRegisters) {}

  sample(seq: number): void {
    if (seq === this.seq) return;
    this.seq = seq;
    const g = this.guest;
    this.cmd = g.reg32[REG_EAX]! >>> 0;
    this.eip = g.eip >>> 0;
    // Read here with the other registers: in the hub's currentStack, V8 no longer carried the getter
    // in line (about 55 host instructions per call under the real emulator).
    this.cr0 = g.cr0;
    const raw = g.instructionCount >>> 0;
    const icount = this.unwrap(raw);
    this.high = icount - raw;
    this.lastRaw = raw;
    this.icount = icount;
  }

  unwrap(raw: number): number {
    return unwrapCount(raw, this.lastRaw, this.high);
  }

  continueFrom(raw: number, icount: number): void {
    this.lastRaw = raw;
    this.high = icount - raw;
    this.seq = -1;
  }

  forgetCall(): void {
    this.seq = -1;
  }
}

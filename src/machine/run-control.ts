// Run control for interactive hosts (the web page's run / pause / step N calls): MachineControl, and
// RunGate, which implements it with the bridge's gated port handlers (a test after each call). A
// pause takes effect right after a hypercall is answered: the machine runner then stops v86
// (pauseGuest in src/host/v86-cpu.ts), so the allocator holds still until the guest is let go again.
// Runs that do not ask for control (MachineOptions.onControl absent) keep the bridge's handlers and
// pay nothing.

import type { PortHandlers } from "../host/v86-cpu.js";
import type { HypercallBridge } from "./bridge.js";

/** What RunGate needs from the machine runner (MachineRun implements it). */
export interface GateHost {
  /** Stops v86 after the call just answered and suspends the run's timeout; resolves once stopped. */
  pauseRun(): Promise<void>;
  /** Starts v86 again after a pause, with the rest of the timeout; nothing once the run has ended. */
  resumeRun(): void;
  /** Ends the run with reason "stopped". */
  stopRun(): void;
}

/**
 * A handle on a running guest for interactive hosts (the web page's run / pause / step N calls). A
 * pause takes effect right after a hypercall is answered: v86's CPU loop ends after that `in` and its
 * main loop stops (pauseGuest in src/host/v86-cpu.ts), so the allocator holds still while the guest
 * is paused. Paused time counts neither toward the run's timeout nor toward its guestMs.
 */
export interface MachineControl {
  /**
   * Pauses after the call being answered now (when called from an observer's onCall), otherwise
   * after the next call. Nothing happens if the guest makes no further call.
   */
  pause(): void;
  /** Lets a paused guest run n >= 1 more calls, then pauses it again. */
  step(n: number): void;
  /** Lets the guest run freely (cancels a pause or step not reached yet). */
  resume(): void;
  /** Ends the run now with reason "stopped", paused or not; runMachine resolves as usual. */
  stop(): void;
  /** True from the call the guest paused after until resume() or step(). */
  readonly paused: boolean;
  /** True while the guest runs with no pause ahead: neither paused, nor stepping, nor about to pause. */
  readonly runningFree: boolean;
  /** Hypercalls answered so far (the bridge's seq). */
  readonly calls: number;
  /** Told each time v86 has stopped for a pause (outside v86's loop), with the calls answered. */
  onPause: ((calls: number) => void) | null;
}

/**
 * MachineControl over the port: the bridge's gated handlers (HypercallBridge.gatedHandlers), whose
 * 32-bit read pauses once the bridge has answered `pauseAt` calls. One compare per call, and only
 * for runs that asked for control.
 */
export class RunGate implements MachineControl {
  onPause: ((calls: number) => void) | null = null;
  readonly handlers: PortHandlers;
  /** Pause once this many calls were answered: 0 at the next one, Infinity never. */
  private pauseAtCall = Infinity;
  private isPaused = false;
  /** Settles when v86 has stopped for the current pause; resuming waits for it. */
  private stopped: Promise<void> = Promise.resolve();

  constructor(
    private readonly bridge: HypercallBridge,
    private readonly run: GateHost,
  ) {
    this.handlers = bridge.gatedHandlers(this);
  }

  /** pauseAtCall, which the bridge's gated read32 tests after each call. */
  get pauseAt(): number {
    return this.pauseAtCall;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get runningFree(): boolean {
    return !this.isPaused && this.pauseAtCall === Infinity;
  }

  get calls(): number {
    return this.bridge.seq;
  }

  pause(): void {
    if (!this.isPaused) this.pauseAtCall = 0;
  }

  step(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`MachineControl.step: ${n} is not a whole number >= 1`);
    this.pauseAtCall = this.bridge.seq + n;
    this.release();
  }

  resume(): void {
    this.pauseAtCall = Infinity;
    this.release();
  }

  stop(): void {
    this.run.stopRun();
  }

  private release(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    void this.stopped.then(() => {
      if (!this.isPaused) this.run.resumeRun();
    });
  }

  /** Inside the port handler, after the call was answered (the bridge's gated read32 calls it). */
  halt(): void {
    this.pauseAtCall = Infinity;
    const state = this.bridge.state;
    if (state === "exited" || state === "failed") return; // the run is ending anyway
    this.isPaused = true;
    const calls = this.bridge.seq;
    this.stopped = this.run.pauseRun();
    // (An exception from onPause is an unhandled rejection: the platform guard ends the run with it.)
    void this.stopped.then(() => {
      const onPause = this.onPause;
      if (this.isPaused && onPause !== null) onPause(calls);
    });
  }
}

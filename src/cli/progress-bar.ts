// The progress bar of a long `buddy86 boot` on stderr (cli-progress): calls served against --ops when
// it is known (the total grows if the guest makes more calls than ops), the rate and the elapsed time.
// Only built when stderr is a terminal and --json is off (observe-flags.ts decides). While it shows,
// whatever the run prints on stdout (the guest's log) first erases the bar's line, so the two never
// share a line; the bar comes back at its next update.

import { SingleBar } from "cli-progress";

export class ProgressBar {
  private readonly bar: SingleBar;
  private total: number;
  private started = false;

  constructor(ops: number | null) {
    this.total = ops !== null && ops > 0 ? ops : 0;
    const format = this.total > 0 ? "buddy86 [{bar}] {percentage}% | {value}/{total} calls | {rate} calls/s | {duration_formatted}" : "buddy86 {value} calls | {rate} calls/s | {duration_formatted}";
    this.bar = new SingleBar({ format, stream: process.stderr, hideCursor: false, clearOnComplete: true, fps: 5, etaBuffer: 50 });
  }

  /** Calls served so far. */
  update(calls: number): void {
    if (!this.started) {
      this.bar.start(Math.max(this.total, calls), calls, { rate: "0" });
      this.started = true;
      this.guardStdout();
    }
    if (calls > this.total && this.total > 0) this.total = calls;
    if (calls > this.bar.getTotal()) this.bar.setTotal(calls);
    const secs = Math.max(0.001, (Date.now() - this.startMs) / 1000);
    this.bar.update(calls, { rate: Math.round(calls / secs).toLocaleString("en-US") });
  }

  private readonly startMs = Date.now();

  /** Erases the bar's line so text can be printed above it. */
  clear(): void {
    if (this.started) {
      process.stderr.write("\r\x1b[2K");
    }
  }

  stop(): void {
    if (this.restoreStdout !== null) this.restoreStdout();
    this.restoreStdout = null;
    if (this.started) this.bar.stop();
  }

  private restoreStdout: (() => void) | null = null;

  /** Erases the bar before each stdout write when both streams are the terminal. */
  private guardStdout(): void {
    if (process.stdout.isTTY !== true) return;
    const stdout = process.stdout;
    const original = stdout.write;
    const clear = (): void => this.clear();
    stdout.write = function guardedWrite(this: typeof stdout, ...args: Parameters<typeof original>): boolean {
      clear();
      return original.apply(this, args);
    } as typeof original;
    this.restoreStdout = () => {
      stdout.write = original;
    };
  }
}

// The progress bar's gating: shown only when stderr is a terminal, never with --json or --no-progress
// (the bar itself is cli-progress; see docs/observability/progress.txt for how it looks).

import { afterEach, describe, expect, it } from "vitest";
import { plainProgress } from "../src/cli/observe-flags.js";

const wasTTY = process.stderr.isTTY;
afterEach(() => {
  process.stderr.isTTY = wasTTY;
});

describe("progress bar", () => {
  it("is off unless stderr is a terminal, and with --json or --no-progress", () => {
    process.stderr.isTTY = false;
    expect(plainProgress({ progress: true }, false, 1000)).toBeNull();
    process.stderr.isTTY = true;
    expect(plainProgress({ progress: true }, true, 1000)).toBeNull();
    expect(plainProgress({ progress: false }, false, 1000)).toBeNull();
    const p = plainProgress({ progress: true }, false, 1000);
    expect(p).not.toBeNull();
    // Its observer does nothing per call: it only keeps the bridge for the timer to read.
    expect(p!.observer.onCall(0, 0, 0, 0, 0, 0, 0)).toBeUndefined();
    p!.stop();
  });
});

// The page's warm-up (src/web/page.ts warm, worker.ts warm): as the page opens, its guest worker runs
// the bundled guest's demo once, unseen, so that the user's first run starts warm. The warm-up must
// end on its own, show nothing (no calls, no report, no log lines), give way at once to a Run pressed
// meanwhile, and leave every run exactly as the CLI makes it; `?warm=0` leaves it out, `?warm=N` makes
// it the demo at N ops, call for call the CLI's.

import { describe, expect, test } from "vitest";
import { runCli, sharedPage, startRun, waitForEnd } from "./web-harness.js";

const web = sharedPage();

interface WarmState {
  warming: boolean;
  warmUp: { reason: string; calls: number; ms: number } | null;
  state: string;
  calls: number;
  report: unknown;
  events: string | null;
}

function warmState(): Promise<WarmState> {
  return web.page.evaluate(() => ({
    warming: window.buddy86!.warming,
    warmUp: window.buddy86!.warmUp,
    state: window.buddy86!.state,
    calls: window.buddy86!.calls,
    report: window.buddy86!.report,
    events: document.getElementById("events")!.getAttribute("data-total"),
  }));
}

const INPUTS = { workload: "demo", seed: 5, ops: 300 };
const CLI_ARGS = ["boot", "--workload", "demo", "--seed", "5", "--ops", "300"];

describe("the page's warm-up", () => {
  test("runs the bundled guest once as the page opens, unseen, and ends on its own", async () => {
    // The page as sharedPage opened it: loaded, nothing pressed. (Navigating away now would abort the
    // warm-up's requests, which the harness counts as problems.)
    await web.page.waitForFunction(() => !window.buddy86!.warming, null, { timeout: 120_000, polling: 100 });
    const s = await warmState();
    expect(s.warmUp?.reason).toBe("exit");
    // The demo at 200 ops makes thousands of calls; the page showed none of them.
    expect(s.warmUp!.calls).toBeGreaterThan(5_000);
    expect(s.state).toBe("idle");
    expect(s.calls).toBe(0);
    expect(s.report).toBeNull();
    expect(s.events).toBeNull();
    expect(await web.page.textContent("#status")).toContain("press Run");
    // The next run is the CLI's, call for call.
    const [cli] = await Promise.all([runCli(CLI_ARGS), startRun(web.page, INPUTS)]);
    const report = await waitForEnd(web.page);
    expect(report.exitCode).toBe(0);
    expect(report.buddyinfo).toBe(cli.buddyinfo);
    expect(report.calls).toEqual(cli.calls);
    expect(web.problems).toEqual([]);
  }, 240_000);

  test("gives way to a Run pressed while it goes: the run is the CLI's, the warm-up stopped", async () => {
    // A fresh page (the last test's run has ended: no request is in flight to abort), with a warm-up
    // long enough (minutes) to be still going when the Run comes, however loaded the machine.
    await web.page.goto(`${web.url}?warm=20000`);
    await web.page.waitForFunction(() => window.buddy86 !== undefined && window.buddy86.warming);
    const [cli] = await Promise.all([runCli(CLI_ARGS), startRun(web.page, INPUTS)]);
    const report = await waitForEnd(web.page);
    expect(report.exitCode).toBe(0);
    expect(report.buddyinfo).toBe(cli.buddyinfo);
    expect(report.calls).toEqual(cli.calls);
    expect(report.statuses).toEqual(cli.statuses);
    const s = await warmState();
    expect(s.warming).toBe(false);
    // Stopped at its next call, or never begun when the Run came while v86.wasm still compiled.
    expect(["stopped", "skipped"]).toContain(s.warmUp?.reason);
    expect(s.warmUp!.calls).toBeLessThan(1_000_000);
    expect(web.problems).toEqual([]);
  }, 240_000);

  test("?warm=N makes it N ops: the CLI's calls for the demo at N ops", async () => {
    await web.page.goto(`${web.url}?warm=40`);
    await web.page.waitForFunction(() => window.buddy86 !== undefined && !window.buddy86.warming && window.buddy86.warmUp !== null, null, { timeout: 120_000, polling: 100 });
    const cli = await runCli(["boot", "--workload", "demo", "--seed", "1", "--ops", "40"]);
    const s = await warmState();
    expect(s.warmUp?.reason).toBe("exit");
    expect(s.warmUp!.calls).toBe(Object.values(cli.calls as Record<string, number>).reduce((a, b) => a + b, 0));
  }, 120_000);

  test("?warm=0 leaves it out", async () => {
    await web.page.goto(`${web.url}?warm=0`);
    await web.page.waitForFunction(() => window.buddy86 !== undefined);
    await web.page.waitForTimeout(500);
    const s = await warmState();
    expect(s.warming).toBe(false);
    expect(s.warmUp).toBeNull();
    expect(web.page.workers()).toHaveLength(0);
  }, 60_000);
});

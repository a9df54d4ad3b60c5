// The page's other controls, in one browser: poison on with the guest's deliberate use after free
// (the page reports what `buddy86 boot --poison` reports), a throttled speed that lets the guest go a
// few calls per display frame, Stop and a speed change also while the guest still boots, and the
// Speed check, which runs the CLI's code path and the live page in this browser, each in a worker of
// its own, and reports both figures (printed here; no timing is asserted).

import { describe, expect, test } from "vitest";
import { V86_WORKER_QUERY } from "../src/host/browser-platform.js";
import type { SpeedResult } from "../src/web/speed-check.js";
import { duringBoot, sharedPage, runCli, startRun, waitForEnd } from "./web-harness.js";

const web = sharedPage();

/**
 * The running churn run (200,000 calls) is throttled to 10 calls per frame: half a second after its
 * 200th call it is far from its end (at full speed tens of thousands of calls pass in that time:
 * 33,305 when the worker lost a speed change) and running, not paused. Then Stop ends it.
 */
async function expectThrottledThenStop(): Promise<void> {
  await web.page.waitForFunction(() => window.buddy86!.calls >= 200, null, { timeout: 60_000 });
  await web.page.waitForTimeout(500);
  expect(await web.page.evaluate(() => window.buddy86!.calls)).toBeLessThan(20_000);
  expect(await web.page.evaluate(() => window.buddy86!.state)).toBe("running");
  await web.page.click("#stop");
  const report = await waitForEnd(web.page);
  await web.page.selectOption("#speed", "0");
  expect(report.reason).toBe("stopped");
  expect(report.exitCode).toBeNull();
}

describe("the page's controls", () => {
  test("poison catches the uaf workload's write to a freed page, as the CLI does", async () => {
    const cli = await runCli(["boot", "--workload", "uaf", "--poison"]);
    const cliPoison = (cli.debug as { poison: { violations: number; reports: { pfn: number }[] } }).poison;
    expect(cliPoison.violations).toBe(1);
    await web.page.setChecked("#poison", true);
    await startRun(web.page, { workload: "uaf" });
    const report = await waitForEnd(web.page);
    await web.page.setChecked("#poison", false);
    expect(report.exitCode).toBe(0);
    const reports = (await web.page.textContent("#reports"))!;
    expect(reports).toContain("poison: 1 violation(s)");
    expect(reports).toContain(`0x${cliPoison.reports[0]!.pfn.toString(16)}`);
    expect(await web.page.textContent("#console")).toContain("[buddy86] poison:");
    // The status line does not read as a clean exit.
    expect(await web.page.textContent("#status")).toContain("poison: 1 use after free");
    expect(await web.page.getAttribute("#status", "data-poison")).toBe("1");
    expect(web.problems).toEqual([]);
  }, 120_000);

  test("at 10 calls per frame the guest advances step by step, and Stop ends the run", async () => {
    await web.page.selectOption("#speed", "10");
    await startRun(web.page, { workload: "churn", ops: 100_000 });
    await expectThrottledThenStop();
  }, 120_000);

  test("slowed from full speed while running, the guest then makes about 10 calls per display frame", async () => {
    await startRun(web.page, { workload: "churn", ops: 2_000_000 });
    await web.page.waitForFunction(() => window.buddy86!.calls >= 50_000, null, { timeout: 60_000 });
    await web.page.selectOption("#speed", "10");
    await web.page.waitForTimeout(300);
    // Calls and display frames over one second: each frame steps the guest 10 calls. A pause between
    // two frames' steps used to wait for v86's next timer tick (about 100 ms): 10 calls per 6 frames.
    const rate = await web.page.evaluate(async () => {
      const b = window.buddy86!;
      const [calls0, frames0] = [b.calls, b.drawStats.frames];
      await new Promise((r) => setTimeout(r, 1000));
      return { calls: b.calls - calls0, frames: b.drawStats.frames - frames0, state: b.state };
    });
    expect(rate.state).toBe("running");
    expect(rate.frames).toBeGreaterThan(10);
    expect(rate.calls, JSON.stringify(rate)).toBeGreaterThanOrEqual(5 * rate.frames);
    expect(rate.calls, JSON.stringify(rate)).toBeLessThanOrEqual(10 * rate.frames + 30);
    await web.page.click("#stop");
    const report = await waitForEnd(web.page);
    await web.page.selectOption("#speed", "0");
    expect(report.reason).toBe("stopped");
    expect(web.problems).toEqual([]);
  }, 120_000);

  test("Stop pressed while the guest is still booting is not lost: the run ends stopped", async () => {
    const stateAtStop = await duringBoot(web.page, { click: "stop" });
    await startRun(web.page, { workload: "churn", ops: 2_000_000 });
    expect(await stateAtStop()).toBe("booting");
    const report = await waitForEnd(web.page);
    expect(report.reason, report.message).toBe("stopped");
    expect(report.exitCode).toBeNull();
    expect(web.problems).toEqual([]);
  }, 120_000);

  test("a speed chosen while the guest is still booting is the run's speed", async () => {
    // As Stop above, the speed changes before the worker has the run (it is still loading v86.wasm):
    // the worker must keep the change for the run.
    const stateAtChange = await duringBoot(web.page, { select: "speed", value: "10" });
    await startRun(web.page, { workload: "churn", ops: 100_000 });
    expect(await stateAtChange()).toBe("booting");
    await expectThrottledThenStop();
    expect(web.problems).toEqual([]);
  }, 120_000);

  test("while the guest runs, every panel is redrawn with the map, frame by frame", async () => {
    await web.page.selectOption("#speed", "10");
    // A pure buddy, so that nearly every call changes buddyinfo (no per-CPU lists in between).
    await startRun(web.page, { workload: "random", ops: 100_000, pcp: false });
    await web.page.waitForFunction(() => window.buddy86!.calls >= 100, null, { timeout: 60_000 });
    // What each panel shows, read once per display frame.
    const frames = await web.page.evaluate(async () => {
      const text = (id: string): string => document.getElementById(id)!.textContent ?? "";
      const pixels = (id: string): string => (document.getElementById(id) as HTMLCanvasElement).toDataURL();
      const out: { seq: string; events: string; buddyinfo: string; chart: string; listShown: boolean; liveShown: boolean; counters: string; at: number }[] = [];
      // Until the map has moved 30 times (a loaded machine draws fewer moving frames), at most 600 frames.
      let moves = 0;
      for (let i = 0; i < 600 && moves < 30; i++) {
        const at = await new Promise<number>((resolve) => requestAnimationFrame(resolve));
        out.push({
          seq: document.getElementById("map")!.dataset.seq ?? "",
          events: pixels("events-live"),
          buddyinfo: text("buddyinfo"),
          chart: pixels("frag"),
          listShown: !document.getElementById("events")!.hidden,
          liveShown: !document.getElementById("events-live")!.hidden,
          counters: text("status") + text("event-count"),
          at,
        });
        if (out.length > 1 && out[out.length - 1]!.seq !== out[out.length - 2]!.seq) moves++;
      }
      return out;
    });
    // The live log's colours: a kind's lines on the canvas are drawn in its DOM line's CSS colour, so
    // every fully covered pixel (a glyph's inside; edges are translucent) has one of those colours.
    const liveColours = await web.page.evaluate(() => {
      const canvas = document.getElementById("events-live") as HTMLCanvasElement;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<string>();
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] === 255) seen.add(`rgb(${data[i]}, ${data[i + 1]}, ${data[i + 2]})`);
      const css = ["alloc", "free", "split", "merge", "pcp-drain", "mark", "fail", "protocol-error"].map((kind) => {
        const probe = document.createElement("div");
        probe.className = `ev ev-${kind}`;
        document.getElementById("events")!.appendChild(probe);
        const colour = getComputedStyle(probe).color;
        probe.remove();
        return colour;
      });
      return { seen: [...seen], css };
    });
    // A click on the live log's newest line pins the frame it names (every event of this run's
    // random workload names one).
    const liveBox = (await web.page.locator("#events-live").boundingBox())!;
    await web.page.mouse.click(liveBox.x + 40, liveBox.y + liveBox.height - 4);
    await web.page.waitForFunction(() => {
      const inspector = document.getElementById("inspector")!;
      return Number(inspector.dataset.pfn) >= 0 && inspector.textContent!.startsWith("[pinned]");
    }, null, { timeout: 10_000 });
    // A window resized while the guest runs: the canvas's pixels follow its box (one column below
    // 1100 pixels, where the log is as wide as the page), and its lines are drawn again (a resize of
    // a canvas's pixels clears them).
    const viewport = web.page.viewportSize()!;
    const refitted = (wide: boolean) =>
      web.page.waitForFunction((wide) => {
        const canvas = document.getElementById("events-live") as HTMLCanvasElement;
        if ((canvas.clientWidth > 600) !== wide || canvas.width !== Math.round(canvas.getBoundingClientRect().width * devicePixelRatio)) return false;
        const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) return true;
        return false;
      }, wide, { timeout: 10_000 });
    await web.page.setViewportSize({ width: 1000, height: viewport.height });
    await refitted(true);
    await web.page.setViewportSize(viewport);
    await refitted(false);
    await web.page.click("#stop");
    await waitForEnd(web.page);
    await web.page.selectOption("#speed", "0");
    // The state bytes travel in buffers the page hands back (a fresh one per packet costs page faults):
    // all but the first two copies (the page returns a buffer once a later copy replaced it) and the
    // final packet's, which may leave before the page has handed the last one back.
    const stats = (await web.page.evaluate(() => window.buddy86!.packetStats))!;
    expect(stats.stateCopies, JSON.stringify(stats)).toBeGreaterThan(10);
    expect(stats.recycled, JSON.stringify(stats)).toBeGreaterThanOrEqual(stats.stateCopies - 3);
    // From the map's first move on.
    const thisRun = frames.slice(frames.findIndex((f) => f.seq !== frames[0]!.seq));
    const moved = thisRun.slice(1).filter((f, i) => f.seq !== thisRun[i]!.seq);
    const with_ = (key: "events" | "buddyinfo" | "chart"): number => thisRun.slice(1).filter((f, i) => f.seq !== thisRun[i]!.seq && f[key] !== thisRun[i]![key]).length;
    // The map moves on most frames; the event log, buddyinfo and the chart move with it, not a few
    // times a second (which would leave them unchanged on most of the map's frames).
    expect(moved.length).toBeGreaterThan(10);
    expect(with_("events")).toBeGreaterThanOrEqual(0.9 * moved.length);
    expect(with_("buddyinfo")).toBeGreaterThanOrEqual(0.8 * moved.length);
    expect(with_("chart")).toBeGreaterThanOrEqual(0.6 * moved.length);
    // A running guest's log is drawn on the canvas that stands in for the list (its lines change every
    // frame; as DOM text each change costs a layout and a paint), in the list's colours: alloc's
    // orange (#ef8a3c) and free's green (#3fa36b) in fully covered pixels of glyphs.
    expect(thisRun.every((f) => f.liveShown && !f.listShown), JSON.stringify(thisRun.map((f) => [f.liveShown, f.listShown]))).toBe(true);
    expect(liveColours.seen.length).toBeGreaterThan(0);
    expect(liveColours.css).toContain("rgb(239, 138, 60)"); // alloc's orange, as style.css gives it
    for (const colour of liveColours.seen) expect(liveColours.css).toContain(colour);
    // The text counters (status line, event count) move on a few times a second, not every frame:
    // over the frames read, their changes are at least 200 ms apart.
    const changes = thisRun.filter((f, i) => i > 0 && f.counters !== thisRun[i - 1]!.counters).map((f) => f.at);
    expect(changes.length, "the counters never moved").toBeGreaterThan(0);
    for (let i = 1; i < changes.length; i++) expect(changes[i]! - changes[i - 1]!).toBeGreaterThanOrEqual(200);
    // Stopped, the list is back: the last 80 events, to scroll through.
    await web.page.waitForFunction(() => document.getElementById("events")!.childElementCount === 80 && !document.getElementById("events")!.hidden, null, { timeout: 10_000 });
    expect(await web.page.evaluate(() => document.getElementById("events-live")!.hidden)).toBe(true);
  }, 120_000);

  test("the speed check measures the CLI's code path and the live page in this browser, each in its own worker", async () => {
    // Leaving the page while its warm-up still fetches v86.wasm would abort that request.
    await web.page.waitForFunction(() => window.buddy86!.warming === false);
    await web.page.goto(`${web.url}?rounds=1`);
    await web.page.waitForFunction(() => window.buddy86 !== undefined);
    await web.page.selectOption("#workload", "churn");
    await web.page.fill("#ops", "5000");
    await web.page.click("#speed-check");
    await web.page.waitForFunction(() => window.buddy86!.speed !== null || window.buddy86!.error !== null, null, { timeout: 180_000, polling: 250 });
    const speed = (await web.page.evaluate(() => window.buddy86!.speed)) as SpeedResult;
    expect(await web.page.evaluate(() => window.buddy86!.error)).toBeNull();
    expect(speed.cliRuns).toHaveLength(1);
    expect(speed.ownersRuns).toHaveLength(1);
    expect(speed.pageRuns).toHaveLength(1);
    for (const ns of [...speed.cliRuns, ...speed.ownersRuns, ...speed.pageRuns]) expect(Number.isFinite(ns) && ns > 0).toBe(true);
    expect(speed.calls).toBe(10_021);
    expect(await web.page.textContent("#speed-result")).toContain("of the CLI's speed");
    // With one round the median runs and the one pair are the best runs.
    expect(speed.medianRelativeSpeed).toBe(speed.relativeSpeed);
    expect(speed.pairedRelativeSpeed).toBe(speed.relativeSpeed);
    expect(await web.page.textContent("#speed-result")).toContain(`page runs at ${(100 * speed.pairedRelativeSpeed).toFixed(0)}% of the CLI's speed`);
    expect(await web.page.textContent("#speed-result")).toContain(`median against median ${(100 * speed.medianRelativeSpeed).toFixed(0)}%`);
    // Each code path ran in a worker of its own, as the CLI runs in a process of its own: the page's
    // guest worker, the CLI path's and the --owners path's (remote-run.ts referenceWorkers).
    expect(web.page.workers().filter((w) => w.url().endsWith(`/worker.js?${V86_WORKER_QUERY}`))).toHaveLength(3);
    // None of their emulators started v86's timer worker (loaded from a blob: URL): v86 yields between
    // slices on the worker's own thread.
    expect(web.blobRequests).toEqual([]);
    console.log(`speed check, churn ops=5000 (ns/call): CLI path ${speed.cliRuns.map(Math.round).join("/")}, --owners ${speed.ownersRuns.map(Math.round).join("/")}, page ${speed.pageRuns.map(Math.round).join("/")}`);
    expect(web.problems).toEqual([]);
  }, 240_000);
});

// The page replays a trace written by `buddy86 boot --trace`: opened through the page's file input,
// at every full snapshot's position the map is that snapshot cell for cell, the buddyinfo at the end
// is the CLI's, the event log holds the trace's events up to the position, and the unusable-index
// chart draws the trace's counters. A screenshot of the replay goes to test-results/.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { Page } from "playwright-core";
import { readTrace } from "../src/observe/trace-read.js";
import type { AllocatorSnapshot } from "../src/observe/snapshot.js";
import { blockOf } from "../src/web/model.js";
import { FREE_BY_ORDER, ALLOC_BY_ORDER, COLOURS, headShade } from "../src/web/palette.js";
import { cellColour, sharedPage, readMap, runCli, screenshot } from "./web-harness.js";

const web = sharedPage();

/** The colour of frame pfn in "order" mode (the page's default), from a snapshot. */
function orderColour(snap: AllocatorSnapshot, pfn: number, cell: number): number {
  const b = blockOf(snap, pfn);
  const rgb =
    b.kind === "free" ? FREE_BY_ORDER[b.order]! : b.kind === "alloc" ? ALLOC_BY_ORDER[b.order]! : b.kind === "pcp" ? COLOURS.pcp : b.kind === "contig" ? COLOURS.contig : b.kind === "reserved" ? COLOURS.reserved : COLOURS.hole;
  return pfn === b.headPfn && cell >= 4 && b.kind !== "reserved" && b.kind !== "hole" ? headShade(rgb) : rgb;
}

async function seek(page: Page, seq: number): Promise<void> {
  await page.$eval(
    "#replay-seq",
    (el, v) => {
      (el as HTMLInputElement).value = String(v);
      el.dispatchEvent(new Event("input"));
    },
    seq,
  );
  await page.waitForFunction((s) => document.getElementById("map")!.dataset.seq === String(s), seq, { timeout: 30_000 });
}

describe("replaying a trace of buddy86 boot --trace", () => {
  test("each snapshot's moment is drawn as the snapshot; the end shows the CLI's buddyinfo", async () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-web-replay-"));
    const tracePath = join(dir, "random.json");
    const cli = await runCli(["boot", "--workload", "random", "--seed", "5", "--ops", "3000", "--trace", tracePath, "--trace-snapshot-every", "1000"]);
    expect(cli.exitCode).toBe(0);
    const trace = readTrace(readFileSync(tracePath, "utf8"));
    const snapshots = [...trace.snapshots].sort((a, b) => a.seq - b.seq);
    expect(snapshots.length).toBeGreaterThanOrEqual(3);

    await web.page.setInputFiles("#trace-file", tracePath);
    await web.page.waitForFunction(() => window.buddy86!.state === "replay" || window.buddy86!.error !== null, null, { timeout: 30_000 });
    expect(await web.page.evaluate(() => window.buddy86!.error)).toBeNull();
    // The trace's first snapshot is the allocator right after MEMMAP: the replay reaches back to it.
    expect(snapshots[0]!.seq).toBe(1);
    expect(await web.page.$eval("#replay-seq", (el) => (el as HTMLInputElement).min)).toBe("1");
    for (const snap of snapshots) {
      await seek(web.page, snap.seq);
      const map = await readMap(web.page);
      const wrong: string[] = [];
      for (let pfn = map.startPfn; pfn < snap.ramPfns && wrong.length < 5; pfn++) {
        const want = orderColour(snap, pfn, map.cell);
        const got = cellColour(map, pfn);
        if (got !== want) wrong.push(`call ${snap.seq} pfn 0x${pfn.toString(16)}: 0x${got.toString(16)} not 0x${want.toString(16)}`);
      }
      expect(wrong).toEqual([]);
    }
    // At the end: the CLI's buddyinfo, and the trace's events in the log.
    expect(await web.page.textContent("#buddyinfo")).toBe(cli.buddyinfo);
    const logged = Number(await web.page.getAttribute("#events", "data-total"));
    const traced = trace.events.filter((e) => e.ph === "i" && ["alloc", "free", "split", "merge", "pcp-drain", "fail", "protocol-error"].includes(e.name)).length;
    expect(logged).toBe(traced + trace.marks.length);
    expect(await web.page.getAttribute("#status", "data-state")).toBe("replay");
    await screenshot(web.page, "web-replay.png");
    expect(web.problems).toEqual([]);
  }, 180_000);
});

// Paused at a MARK, the page's map shows what the CLI's `--at mark:LABEL` view says (the view the CLI
// writes into its --trace file): every frame's cell has the colour of its state there, and the frames
// the view says are allocated have the allocated colour. Two guests: a kernel of our own, uploaded
// through the page's file input, that holds blocks of several orders and a contig range at its MARK;
// and the bundled guest, paused at "phase:random" and stepped 400 calls (compared with --at call:N),
// where hovering an allocated frame shows its owner and backtrace. Screenshots go to test-results/.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import type { Page } from "playwright-core";
import { GFP } from "../src/mem/index.js";
import { Cmd } from "../src/protocol/abi.js";
import { readTrace } from "../src/observe/trace-read.js";
import type { AllocatorSnapshot } from "../src/observe/snapshot.js";
import { blockOf } from "../src/web/model.js";
import { COLOURS, headShade } from "../src/web/palette.js";
import { Asm, EBX, ECX, EDI, ESI, EAX, LOAD_ADDR, imageEndFor, tinyKernel } from "./machine-fixtures.js";
import { cellColour, clickReadingState, sharedPage, readMap, runCli, screenshot, startRun, waitForEnd, waitForPause, type MapPixels } from "./web-harness.js";

const MiB = 2 ** 20;
const LABEL = "live";

/**
 * A kernel that MEMMAPs, allocates blocks of orders 0..6 (some GFP_DMA) and a 37-frame contig run,
 * MARKs "live" with all of them held, and EXITs 0 (leaving them allocated).
 */
function liveBlocksKernel(): Uint8Array {
  const blocks: [number, number][] = [[0, 0], [3, 0], [1, GFP.DMA], [6, 0], [2, 0], [0, GFP.DMA], [5, 0], [4, GFP.DMA], [0, 0], [2, 0]];
  const build = (imageEnd: number, labelAddr: number): Uint8Array => {
    const a = new Asm();
    a.movReg(EDI, EBX);
    a.hc(Cmd.HELLO, 1);
    a.mov(EAX, Cmd.MEMMAP).movReg(EBX, EDI).mov(ECX, LOAD_ADDR).mov(ESI, imageEnd).in32();
    a.cmp(EBX, 0).jnz("fail");
    for (const [order, gfp] of blocks) a.hc(Cmd.ALLOC_PAGES, order, gfp).cmp(EBX, 0).jnz("fail");
    a.hc(Cmd.ALLOC_CONTIG, 37, 8, 0).cmp(EBX, 0).jnz("fail");
    a.hc(Cmd.MARK, labelAddr).cmp(EBX, 0).jnz("fail");
    a.exit(0).halt();
    a.label("fail");
    a.exit(1).halt();
    a.raw(...new TextEncoder().encode(LABEL), 0);
    return a.assemble();
  };
  // Code size does not depend on the addresses (imm32 operands): measure, then build for real.
  const size = build(0, 0).length;
  const codeStart = imageEndFor(0, 0);
  return tinyKernel(build(imageEndFor(size), codeStart + size - (LABEL.length + 1))).elf;
}

/** The colour the page gives frame pfn in "state" mode, from a snapshot. */
function expectedColour(snap: AllocatorSnapshot, pfn: number, cell: number): number {
  const b = blockOf({ ...snap }, pfn);
  const base = { free: COLOURS.free, pcp: COLOURS.pcp, alloc: COLOURS.allocated, contig: COLOURS.contig, reserved: COLOURS.reserved, hole: COLOURS.hole }[b.kind];
  const isHead = pfn === b.headPfn && b.kind !== "reserved" && b.kind !== "hole";
  return isHead && cell >= 4 ? headShade(base) : base;
}

/** Compares every cell of the map with the snapshot; returns the frames the snapshot says are allocated. */
function compareMap(map: MapPixels, snap: AllocatorSnapshot): number[] {
  const wrong: string[] = [];
  const allocated: number[] = [];
  for (let pfn = map.startPfn; pfn < snap.ramPfns; pfn++) {
    const want = expectedColour(snap, pfn, map.cell);
    const got = cellColour(map, pfn);
    if (got !== want && wrong.length < 10) wrong.push(`pfn 0x${pfn.toString(16)}: map 0x${got.toString(16)}, view 0x${want.toString(16)} (${blockOf(snap, pfn).kind})`);
    const kind = blockOf(snap, pfn).kind;
    if (kind === "alloc" || kind === "contig") allocated.push(pfn);
  }
  expect(wrong).toEqual([]);
  return allocated;
}

/** Moves the mouse over frame pfn's cell. */
async function hover(page: Page, map: MapPixels, pfn: number): Promise<void> {
  const box = (await page.locator("#map").boundingBox())!;
  const offset = pfn - map.startPfn;
  const scale = box.width / map.width;
  const x = box.x + ((offset % map.columns) * map.cell + map.cell / 2) * scale;
  const y = box.y + (Math.floor(offset / map.columns) * map.cell + map.cell / 2) * scale;
  await page.mouse.move(x, y);
}

const web = sharedPage();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "buddy86-web-mark-"));
  await web.page.selectOption("#colour-mode", "state");
}, 60_000);

describe("paused at a MARK, the map shows the CLI's view", () => {
  test("your own kernel, uploaded: the blocks it holds at MARK \"live\" are drawn allocated", async () => {
    const kernel = liveBlocksKernel();
    const kernelPath = join(dir, "live-blocks.elf");
    writeFileSync(kernelPath, kernel);
    const tracePath = join(dir, "live.json");
    const [cli] = await Promise.all([
      runCli(["boot", "--kernel", kernelPath, "--memory", String(128 * MiB), "--at", `mark:${LABEL}`, "--trace", tracePath]),
      startRun(web.page, { kernel: { name: "live-blocks.elf", bytes: kernel }, pauseAtMark: LABEL, memory: 128 * MiB }),
    ]);
    expect(cli.exitCode).toBe(0);
    const view = readTrace(readFileSync(tracePath, "utf8")).view!;
    expect(view.at).toBe(`mark:${LABEL}`);
    const calls = await waitForPause(web.page);
    // Paused right after the MARK call: the view is taken after that call too.
    expect(calls - 1).toBe(view.snapshot.seq);
    const map = await readMap(web.page);
    const allocated = compareMap(map, view.snapshot);
    // The view's live blocks, frame by frame: 1+8+2+64+4+1+32+16+1+4 frames and the 37-frame range.
    const liveFrames = view.rows.reduce((n, r) => n + r[1]!, 0);
    expect(liveFrames).toBe(170);
    expect(allocated.length).toBe(liveFrames);
    const allocatedColours = new Set([COLOURS.allocated, headShade(COLOURS.allocated), COLOURS.contig, headShade(COLOURS.contig)]);
    for (const [pfn, npages] of view.rows) {
      for (let f = pfn!; f < pfn! + npages!; f++) expect(allocatedColours.has(cellColour(map, f)), `pfn 0x${f.toString(16)}`).toBe(true);
    }
    await screenshot(web.page, "web-mark-live.png");
    expect(await clickReadingState(web.page, "run")).toBe("running"); // resume
    const report = await waitForEnd(web.page);
    expect(report.exitCode).toBe(0);
    expect(web.problems).toEqual([]);
  }, 180_000);

  test("the bundled guest, paused at \"phase:random\" and stepped 400 calls: map, owner and backtrace", async () => {
    const inputs = { workload: "random", seed: 7, ops: 1000, memory: 128 * MiB, pauseAtMark: "phase:random" };
    await startRun(web.page, inputs);
    const atMark = await waitForPause(web.page);
    await web.page.fill("#step-n", "400");
    // Step says "running" in the click's own task, so the next pause waited for is the step's end,
    // never the MARK's pause still on screen.
    expect(await clickReadingState(web.page, "step")).toBe("running");
    const calls = await waitForPause(web.page);
    expect(calls).toBe(atMark + 400);
    const tracePath = join(dir, "random.json");
    const cli = await runCli(["boot", "--workload", "random", "--seed", "7", "--ops", "1000", "--memory", String(128 * MiB), "--at", `call:${calls - 1}`, "--trace", tracePath]);
    expect(cli.exitCode).toBe(0);
    const trace = readTrace(readFileSync(tracePath, "utf8"));
    const view = trace.view!;
    expect(view.snapshot.seq).toBe(calls - 1);
    const map = await readMap(web.page);
    const allocated = compareMap(map, view.snapshot);
    expect(allocated.length).toBeGreaterThan(50);
    // Hover the first ALLOC_PAGES block's head: the inspector names its owner and shows its backtrace.
    const [pfn, , order, , stack] = view.rows.find((r) => r[2]! >= 0)!;
    const owner = trace.owners!.stacks[String(stack)]!;
    await hover(web.page, map, pfn!);
    await web.page.waitForFunction((want) => document.getElementById("inspector")!.textContent!.includes(want), `owner: ${owner.owner}`, { timeout: 30_000 });
    const text = (await web.page.textContent("#inspector"))!;
    expect(text).toContain(`order ${order}`);
    for (const frame of owner.frames) expect(text).toContain(frame);
    expect(text).toContain("history (newest first):");
    // Paused, the event log holds the last 80 events to scroll back through (a running guest's, 20).
    await web.page.waitForFunction(() => document.getElementById("events")!.childElementCount === 80, null, { timeout: 30_000 });
    await screenshot(web.page, "web-mark-random.png");
    // Pinned (a click), the frame's owner and history follow the guest: after another step they are
    // told again for the new state, though nothing else redraws a paused page.
    await web.page.mouse.down();
    await web.page.mouse.up();
    await web.page.waitForFunction(() => document.getElementById("inspector")!.textContent!.startsWith("[pinned]"));
    await web.page.fill("#step-n", "5");
    expect(await clickReadingState(web.page, "step")).toBe("running");
    const after = await waitForPause(web.page);
    expect(after).toBe(calls + 5);
    await web.page.waitForFunction((seq) => document.getElementById("inspector")!.dataset.detailsSeq === String(seq), after - 1, { timeout: 10_000 });
    // Again at once: this pause comes within the 250 ms between two asks, and is still caught up.
    expect(await clickReadingState(web.page, "step")).toBe("running");
    const again = await waitForPause(web.page);
    expect(again).toBe(after + 5);
    await web.page.waitForFunction((seq) => document.getElementById("inspector")!.dataset.detailsSeq === String(seq), again - 1, { timeout: 10_000 });
    // Unpinned and left: the inspector no longer shows a frame it is not pointing at.
    await hover(web.page, map, pfn!);
    await web.page.mouse.down();
    await web.page.mouse.up();
    await web.page.mouse.move(0, 0);
    await web.page.waitForFunction(() => document.getElementById("inspector")!.dataset.pfn === undefined, null, { timeout: 10_000 });
    await web.page.click("#stop");
    const report = await waitForEnd(web.page);
    expect(report.reason).toBe("stopped");
    // After the end, the worker still answers: the owner and history of a block not asked about
    // before, not "unknown".
    const [pfn2, , , , stack2] = view.rows.filter((r) => r[2]! >= 0)[1]!;
    await hover(web.page, map, pfn2!);
    const owner2 = trace.owners!.stacks[String(stack2)]!;
    await web.page.waitForFunction((want) => document.getElementById("inspector")!.textContent!.includes(want), `owner: ${owner2.owner}`, { timeout: 10_000 });
    expect(await web.page.textContent("#inspector")).toContain("history (newest first):");
    // A click on an event line pins the frame it names.
    const line = web.page.locator("#events [data-pfn]").nth(3);
    const linePfn = Number(await line.getAttribute("data-pfn"));
    await line.click();
    await web.page.waitForFunction((pfn) => {
      const inspector = document.getElementById("inspector")!;
      return inspector.dataset.pfn === String(pfn) && inspector.textContent!.startsWith("[pinned]");
    }, linePfn, { timeout: 10_000 });
    expect(web.problems).toEqual([]);
  }, 180_000);
  test("owner colouring names the guest functions holding memory, while paused and after the run ends", async () => {
    const legendHas = (names: string[]) => web.page.waitForFunction((want) => want.every((n) => document.getElementById("legend")!.textContent!.includes(n)), names, { timeout: 10_000 });
    const pausedInRandom = async (): Promise<void> => {
      await startRun(web.page, { workload: "random", seed: 7, ops: 1000, memory: 128 * MiB, pauseAtMark: "phase:random" });
      await waitForPause(web.page);
      await web.page.fill("#step-n", "400");
      expect(await clickReadingState(web.page, "step")).toBe("running");
      await waitForPause(web.page);
    };
    // Paused: the live set (one ALLOC_CONTIG range, live_init's) and random_run's blocks.
    await web.page.selectOption("#colour-mode", "owner");
    await pausedInRandom();
    await legendHas(["live_init", "random_run"]);
    await web.page.click("#stop");
    expect((await waitForEnd(web.page)).reason).toBe("stopped");
    // A run watched in another mode and stopped with its blocks held: owner colouring chosen after
    // its end has the final packet's owner table (no earlier packet carried one).
    await web.page.selectOption("#colour-mode", "state");
    await pausedInRandom();
    // Chosen while paused: the owner table comes with the next packet, and the map is redrawn with
    // it (it stayed "owner unknown" until the guest moved on).
    await web.page.selectOption("#colour-mode", "owner");
    await legendHas(["live_init", "random_run"]);
    await web.page.selectOption("#colour-mode", "state");
    await web.page.click("#stop");
    expect((await waitForEnd(web.page)).reason).toBe("stopped");
    await web.page.selectOption("#colour-mode", "owner");
    await legendHas(["live_init", "random_run"]);
    await web.page.selectOption("#colour-mode", "state");
    expect(web.problems).toEqual([]);
  }, 120_000);

  test("a run whose kernel makes no MEMMAP shows no memory, not the last run's; another RAM size resets the zoom", async () => {
    // A run of the bundled guest draws its map and buddyinfo; zoom into its first zone.
    await startRun(web.page, { workload: "churn", ops: 100, memory: 128 * MiB });
    expect((await waitForEnd(web.page)).exitCode).toBe(0);
    expect(await web.page.textContent("#buddyinfo")).toContain("Node 0, zone");
    await hover(web.page, await readMap(web.page), 0x2000);
    await web.page.waitForFunction(() => document.getElementById("inspector")!.dataset.pfn === String(0x2000));
    await web.page.click("#zoom-buttons button:nth-child(2)");
    expect(await web.page.textContent("#zoom-label")).not.toBe("");
    const a = new Asm();
    a.hc(Cmd.HELLO, 1);
    a.exit(0).halt();
    const kernel = tinyKernel(a.assemble()).elf;
    await startRun(web.page, { kernel: { name: "no-memmap.elf", bytes: kernel }, memory: 64 * MiB });
    const report = await waitForEnd(web.page);
    expect(report.exitCode).toBe(0);
    expect(await web.page.evaluate(() => document.getElementById("map")!.dataset.seq)).toBeUndefined();
    expect(await web.page.textContent("#buddyinfo")).toBe("");
    expect(await web.page.textContent("#zoom-label")).toBe("");
    // Nor the last run's frame in the inspector, nor its zone buttons.
    expect(await web.page.evaluate(() => document.getElementById("inspector")!.dataset.pfn)).toBeUndefined();
    expect(await web.page.textContent("#inspector")).toBe("Hover over the map.");
    expect(await web.page.locator("#zoom-buttons button").count()).toBe(0);
    expect(web.problems).toEqual([]);
  }, 120_000);
});

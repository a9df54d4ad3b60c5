// The replay's owner colouring table (TraceReplay.ownerIds, what the page's owner mode draws from a
// trace): at the trace's own view every frame of every live allocation, ALLOC_CONTIG ranges whole,
// names the owner the CLI's page owner gave it, and no other frame names any. Built once per
// position: asked per block, the table scanned the whole trace for each of tens of thousands of
// blocks, seconds per repaint of a large trace.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTrace } from "../src/observe/trace-read.js";
import { TraceReplay } from "../src/web/replay.js";
import { runCli } from "./web-harness.js";

describe("a trace replay's owner table", () => {
  it("names the CLI's owner for every frame of each live block at the trace's view, and nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-replay-owners-"));
    const tracePath = join(dir, "random.json");
    // The random workload holds its live set as one ALLOC_CONTIG range (live_init) besides its blocks.
    const cli = await runCli(["boot", "--workload", "random", "--seed", "5", "--ops", "3000", "--owners", "--at", "peak", "--trace", tracePath, "--trace-limit", "1000000", "--trace-snapshot-every", "100"]);
    expect(cli.exitCode).toBe(0);
    const text = readFileSync(tracePath, "utf8");
    const view = readTrace(text).view!;
    const stacks = readTrace(text).owners!.stacks;
    const replay = new TraceReplay(text);
    replay.seek(view.snapshot.seq);
    expect(replay.seq).toBe(view.snapshot.seq);
    const { names, ids } = replay.ownerIds();
    expect(replay.ownerIds().ids).toBe(ids); // kept while the position stays
    const base = replay.snapshot.basePfn;
    const want = new Int32Array(ids.length).fill(-1);
    const wantNames: string[] = [];
    let contigFrames = 0;
    for (const [pfn, npages, order, , stack] of view.rows) {
      const name = stacks[String(stack)]!.owner;
      if (!wantNames.includes(name)) wantNames.push(name);
      want.fill(wantNames.indexOf(name), pfn! - base, pfn! - base + npages!);
      if (order! < 0) contigFrames += npages!;
    }
    expect(contigFrames).toBeGreaterThan(1);
    const got = Array.from(ids, (k) => (k < 0 ? "" : names[k]!));
    const expected = Array.from(want, (k) => (k < 0 ? "" : wantNames[k]!));
    const wrong = got.flatMap((g, i) => (g !== expected[i] ? [`pfn 0x${(i + base).toString(16)}: "${g}" not "${expected[i]}"`] : [])).slice(0, 5);
    expect(wrong).toEqual([]);
    replay.seek(view.snapshot.seq - 1);
    expect(replay.ownerIds().ids).not.toBe(ids);
    // Its log names the function of a split's or merge's EIP, as a live log does (the trace's
    // `where`), not the bare address.
    const splits = Array.from({ length: replay.events.size }, (_, i) => replay.events.get(i)).filter((e) => e.kind === "split" || e.kind === "merge");
    expect(splits.length).toBeGreaterThan(0);
    for (const e of splits) expect(e.where).toMatch(/^[a-z_][\w.]*\+0x[0-9a-f]+$/);
  }, 60_000);
});

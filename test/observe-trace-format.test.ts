// The --trace file against the Trace Event Format's documented fields (JSON Object Format: traceEvents,
// otherData; events: name, ph, ts in µs, pid, tid, args; dur for complete events; s for instants;
// numeric args for counters; process/thread names for metadata), the buddy86 content it promises,
// and `buddy86 report` reading it back, whole and cut short. Runs the boot flags' code in process.

import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { runMachine } from "../src/machine/index.js";
import { ObserveRun, type ObserveFlags } from "../src/cli/observe-flags.js";
import { runReport } from "../src/cli/report-command.js";
import { depotStackText, formatLiveOwners, readTrace, TRACE_FORMAT_VERSION } from "../src/observe/index.js";
import { Cmd } from "../src/protocol/abi.js";
import { Asm, tinyKernel } from "./machine-fixtures.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);
/** Every phase the Trace Event Format documents. */
const PHASES = new Set(["B", "E", "X", "i", "I", "C", "b", "n", "e", "s", "t", "f", "P", "N", "O", "D", "M", "V", "v", "R", "c", "(", ")"]);
const METADATA_NAMES = new Set(["process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"]);

type Json = Record<string, unknown>;

/** Checks one event against the format; returns what is wrong, or null. */
function formatProblem(e: Json): string | null {
  if (typeof e.name !== "string") return "name is not a string";
  if (typeof e.ph !== "string" || !PHASES.has(e.ph)) return `unknown ph ${String(e.ph)}`;
  if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid)) return "pid/tid are not integers";
  if (e.args !== undefined && (typeof e.args !== "object" || e.args === null || Array.isArray(e.args))) return "args is not an object";
  if (e.cat !== undefined && typeof e.cat !== "string") return "cat is not a string";
  if (e.ph === "M") {
    if (!METADATA_NAMES.has(e.name)) return `unknown metadata event ${e.name}`;
    if (e.name.endsWith("_name") && typeof (e.args as Json)?.name !== "string") return "metadata without args.name";
    return null;
  }
  if (typeof e.ts !== "number" || !(e.ts >= 0)) return "ts is not a non-negative number";
  if (e.ph === "X" && !(typeof e.dur === "number" && e.dur >= 0)) return "complete event without dur";
  if ((e.ph === "i" || e.ph === "I") && e.s !== undefined && !["g", "p", "t"].includes(e.s as string)) return `instant scope ${String(e.s)}`;
  if (e.ph === "C") {
    const values = Object.values((e.args as Json) ?? {});
    if (values.length === 0 || values.some((v) => typeof v !== "number")) return "counter args are not all numbers";
  }
  return null;
}

describe.skipIf(!existsSync(IMAGE))("the --trace file", () => {
  it("follows the Trace Event Format, holds what it promises, and re-renders with buddy86 report", async () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-trace-"));
    const flags: ObserveFlags = {
      owners: true,
      at: "peak",
      trace: join(dir, "t.json"),
      traceLimit: "3000",
      traceSnapshotEvery: "1000",
      map: join(dir, "m.png"),
      frag: join(dir, "f.svg"),
      progress: false,
    };
    const printed: string[] = [];
    const kernel = new Uint8Array(readFileSync(IMAGE));
    const cmdline = "workload=random ops=4000 seed=5";
    const run = new ObserveRun(flags, { kernel, json: false, quiet: false, requested: true, ops: 4000, cmdline, memoryBytes: 32 * 2 ** 20, print: (t) => printed.push(t) });
    const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline, observer: run.observer, timeoutMs: 120_000 });
    expect(result.reason, result.guestLog).toBe("exit");
    const json = await run.finish(result);
    expect(json.files).toEqual([flags.map, flags.frag, flags.trace]);

    const text = readFileSync(flags.trace!, "utf8");
    const doc = JSON.parse(text) as { traceEvents: Json[]; otherData: Json };
    expect(doc.otherData.buddy86TraceFormat).toBe(TRACE_FORMAT_VERSION);
    expect(Array.isArray(doc.traceEvents)).toBe(true);
    for (const e of doc.traceEvents) expect(formatProblem(e), JSON.stringify(e).slice(0, 200)).toBeNull();
    const by = (pred: (e: Json) => boolean): Json[] => doc.traceEvents.filter(pred);
    // Allocation events, bounded by --trace-limit, the rest counted.
    const allocEvents = by((e) => e.ph === "i" && ["alloc", "free", "split", "merge", "pcp-drain", "fail", "protocol-error"].includes(e.name as string));
    expect(allocEvents.length).toBe(3000);
    const summary = by((e) => e.name === "summary")[0]!.args as Json;
    expect(Object.values(summary.dropped as Json).reduce((a: number, b) => a + (b as number), 0)).toBeGreaterThan(0);
    const alloc = allocEvents.find((e) => e.name === "alloc" && (e.args as Json).order !== undefined)!.args as Json;
    expect(alloc).toMatchObject({ owner: expect.any(String), eip: expect.stringMatching(/^0x/), icount: expect.any(Number), order: expect.any(Number), zone: expect.any(String) });
    // The instruction counter is in every event's args but the metadata's and the counters' (whose
    // args are their series), and it grows with the call number.
    const timed = by((e) => e.ph !== "M" && e.ph !== "C").sort((x, y) => (x.ts as number) - (y.ts as number));
    for (const e of timed) expect((e.args as Json).icount, `${String(e.name)} at ${String(e.ts)}`).toEqual(expect.any(Number));
    for (let i = 1; i < timed.length; i++) expect((timed[i]!.args as Json).icount as number).toBeGreaterThanOrEqual(((timed[i - 1]!.args as Json).icount as number) - 1000);
    // Timestamps are call numbers; slices between MARKs; counters; snapshots every 1000 calls and at the end.
    expect(by((e) => e.ph === "X").map((e) => e.name)).toEqual(["phase:random"]);
    expect(by((e) => e.ph === "C" && e.name === "free frames").length).toBeGreaterThan(100);
    const snaps = by((e) => e.name === "snapshot").map((e) => e.ts);
    // The first right after MEMMAP (the guest's second call, after HELLO), so any call can be rebuilt.
    expect(snaps.slice(0, 4)).toEqual([1, 1000, 2000, 3000]);
    expect(by((e) => e.name === "view").length).toBe(1);
    expect(by((e) => e.ph === "M" && e.name === "thread_name").length).toBe(5);

    // buddy86 report gives back the live run's reports and owners.
    const again: string[] = [];
    expect(await runReport(flags.trace!, { owners: true, map: join(dir, "m2.svg"), frag: join(dir, "f2.png") }, (t) => again.push(t))).toBe(0);
    const live = printed.join("\n");
    // The end-of-run reports (the live output also has the report printed at the MARK).
    const endReports = live.slice(live.indexOf("== reports at the end"));
    const buddyinfo = /\/proc\/buddyinfo:\n[\s\S]*?\/proc\/pagetypeinfo/.exec(endReports)![0];
    expect(again.join("\n")).toContain(buddyinfo);
    const owners = printed.find((t) => t.startsWith("== page owners"))!;
    expect(again).toContain(owners);
    // The per-order counters too, and alike from a trace written before their count of protocol-error
    // events was renamed from `protocolErrors` (the run report's name for port misuse alone).
    const countersLine = /^contig: .*; protocol-error events \(refused requests and port misuse\): \d+$/m.exec(endReports)![0];
    expect(again.join("\n")).toContain(countersLine);
    const legacy = join(dir, "legacy.json");
    expect(text.split('"protocolErrorEvents":').length).toBe(2);
    writeFileSync(legacy, text.replace('"protocolErrorEvents":', '"protocolErrors":'));
    const old: string[] = [];
    expect(await runReport(legacy, {}, (t) => old.push(t))).toBe(0);
    expect(old.join("\n")).toContain(countersLine);
    expect(readFileSync(join(dir, "m.png")).subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(join(dir, "f2.png")).subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(join(dir, "m2.svg"), "utf8")).toContain("allocated by random_run");
    expect(statSync(flags.frag!).size).toBeGreaterThan(1000);

    // Another moment from the trace: the map from the nearest snapshot, the owners rebuilt from the
    // kept events at the call itself, the same groups as the live page owner had after that call.
    const at1500: string[] = [];
    expect(await runReport(flags.trace!, { at: "call:1500", owners: true }, (t) => at1500.push(t))).toBe(0);
    expect(at1500).toContain("== --at call:1500: call 1500; the map is the nearest full snapshot, after call 1000; the owners are those after the call itself");
    const owner = run.session.owner!;
    const liveAt1500 = formatLiveOwners(owner, owner.liveAt(1500), depotStackText(run.session.hub.depot, run.session.sym), "x");
    expect(owner.liveAt(1500)).not.toEqual(owner.liveAt(1000));
    const fromTrace = at1500.find((t) => t.startsWith("== page owners after call 1500 (from the trace's alloc and free events)"))!;
    expect(fromTrace.split("\n").slice(1).join("\n")).toBe(liveAt1500.replace(/\n+$/, "").split("\n").slice(1).join("\n"));
    const late: string[] = [];
    await runReport(flags.trace!, { at: "call:3999", owners: true }, (t) => late.push(t));
    expect(late.join("\n")).toContain("owners unknown there (the trace's events were cut before it)");

    // A trace cut in the middle still reads, up to its last complete event.
    const cut = join(dir, "cut.json");
    writeFileSync(cut, text.slice(0, Math.floor(text.length * 0.6)));
    const model = readTrace(readFileSync(cut, "utf8"));
    expect(model.truncated).toBe(true);
    expect(model.snapshots.length).toBeGreaterThan(0);
    const cutOut: string[] = [];
    expect(await runReport(cut, { map: join(dir, "cut.svg") }, (t) => cutOut.push(t))).toBe(0);
    expect(cutOut[0]).toContain("cut short");
  });
  it("a file of another shape is refused in words: what is wrong and where, never a TypeError of ours", () => {
    const head = `{"otherData":{"buddy86TraceFormat":${TRACE_FORMAT_VERSION}},"traceEvents":`;
    const snap = (args: string): string => `${head}[{"name":"snapshot","ph":"i","ts":5,"args":${args}}]}`;
    const cases: [string, RegExp][] = [
      ["null", /not a buddy86 trace: the JSON is not an object/],
      ["[1,2]", /not a buddy86 trace: the JSON is not an object/],
      ['{"otherData":null}', /not a buddy86 trace of format/],
      [`${head}{"a":1}}`, /traceEvents is not an array of event objects/],
      [`${head}[1,2]}`, /traceEvents is not an array of event objects/],
      [snap('{"frameCount":"x","meta":""}'), /event #0 \(snapshot\): its frameCount x is not a frame count/],
      [snap('{"frameCount":0,"meta":"","zoneLo":"o"}'), /event #0 \(snapshot\): its zoneLo is not an array of numbers/],
      [`${head}[{"name":"view","ph":"i","ts":1,"args":{"rows":5}}]}`, /event #0 \(view\): its rows are not an array of rows/],
      [`${head}[{"name":"owners","ph":"i","ts":1,"args":{}}]}`, /event #0 \(owners\): it has no stack table/],
      [`${head}[{"name":5,"ph":"C","ts":1,"args":{"n":1}}]}`, /event #0 has no string name or no numeric ts/],
      [`${head}[{"name":"m","ph":"M"},{"name":"phase","ph":"X","tid":1,"ts":"9"}]}`, /event #1 has no string name or no numeric ts/],
    ];
    for (const [text, message] of cases) {
      let error: unknown = null;
      try {
        readTrace(text);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(Error);
      expect(error, text).not.toBeInstanceOf(TypeError);
      expect((error as Error).message, text).toMatch(message);
    }
  });
  it("a trace of a run that never made MEMMAP says so, not that it was cut", async () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-trace-nomemmap-"));
    const a = new Asm();
    a.hc(Cmd.HELLO, 1);
    a.exit(0).halt();
    const kernel = tinyKernel(a.assemble()).elf;
    const flags: ObserveFlags = { owners: true, at: "peak", trace: join(dir, "t.json"), traceLimit: "1000", traceSnapshotEvery: "1000", progress: false };
    const run = new ObserveRun(flags, { kernel, json: false, quiet: true, requested: true, ops: null, cmdline: "", memoryBytes: 32 * 2 ** 20, print: () => {} });
    const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline: "", observer: run.observer, timeoutMs: 60_000 });
    expect(result.reason).toBe("exit");
    await run.finish(result);
    const out: string[] = [];
    expect(await runReport(flags.trace!, { owners: true }, (t) => out.push(t))).toBe(0);
    const text = out.join("\n");
    expect(text).toContain("run ended: exit, exit code 0, 2 calls; no allocation");
    expect(text).toContain("no view in this trace (the run never completed MEMMAP, so it had no allocator): no page owners");
    expect(text).not.toMatch(/cut/);
  });
});

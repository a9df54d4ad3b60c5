// `npm run bench:live`: the web page's live run (src/web/live-run.ts: the event hub, the present-only
// page owner, the timeline and the event log, as the page's worker runs them) on the real emulator
// under Node, beside the CLI's plain run of the same guest (runMachine with no observer, as `buddy86
// boot` makes it), in ns per bridge call. It measures what the page's observers cost per hypercall
// without a browser, whose rendering shares the machine's cores with the guest (docs/web-speed.md):
// runs alternate, CLI first, REPS each after one warm-up of each; the best of each is compared.
// `--one MODE [OPS]` (MODE cli or page) makes one run and prints its ns per call, for callgrind: the
// host instructions per call are the difference of two OPS divided by the calls between.
//   npm run bench:live [-- --ops 1000000 --workload churn --reps 3]

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GUEST_IMAGE, bundledImage } from "../cli/images.js";
import { nodePlatform } from "../host/node-platform.js";
import { runMachine, type MachineResult } from "../machine/index.js";
import { LiveRun } from "../web/live-run.js";
import { medianMinMax } from "./workloads.js";

const MEMORY_BYTES = 128 * 2 ** 20;

const platform = nodePlatform();
const kernel = new Uint8Array(readFileSync(bundledImage(GUEST_IMAGE)));
// v86.wasm compiled once for every run, as the page's worker does (and v86's JIT modules are cached
// per process, src/host/wasm-cache.ts), so that each run measures the guest, not the compiler.
const wasmModule = await WebAssembly.compile(readFileSync(platform.wasmPath));

/** One run of `workload` with `ops` ops; its ns per bridge call. Throws unless the guest EXITs. */
async function once(mode: string, workload: string, ops: number): Promise<number> {
  const cmdline = `workload=${workload} seed=1 ops=${ops}`;
  let r: MachineResult;
  if (mode === "cli") r = await runMachine({ kernel, platform, memoryBytes: MEMORY_BYTES, cmdline, maxOrder: 10, timeoutMs: 600_000, wasmModule });
  else if (mode === "page") {
    const settings = { kernel, kernelName: GUEST_IMAGE, cmdline, memoryBytes: MEMORY_BYTES, maxOrder: 10, pcp: true, poison: false, pauseAtMark: "", callsPerFrame: 0, wasmUrl: "" };
    r = await new LiveRun(settings, wasmModule, platform).start();
  } else throw new Error(`bench-live: mode ${mode} is not cli or page`);
  if (r.reason !== "exit" || r.bridgeNsPerCall === null) throw new Error(`bench-live: the ${mode} run ended with ${r.reason}: ${r.message}`);
  return r.bridgeNsPerCall;
}

// Node's own parser, strict: a misspelt option is refused rather than left at its default.
const { values, positionals } = parseArgs({
  options: { one: { type: "string" }, ops: { type: "string", default: "1000000" }, workload: { type: "string", default: "churn" }, reps: { type: "string", default: "3" } },
  allowPositionals: true,
});
const workload = values.workload;
if (values.one !== undefined) {
  console.log((await once(values.one, workload, Number(positionals[0] ?? 1_000_000))).toFixed(1));
} else {
  const ops = Number(values.ops);
  const reps = Number(values.reps);
  if (!Number.isInteger(ops) || ops < 1 || !Number.isInteger(reps) || reps < 1) throw new Error("bench-live: --ops and --reps take positive integers");
  const cli: number[] = [];
  const page: number[] = [];
  await once("cli", workload, ops);
  await once("page", workload, ops);
  for (let rep = 0; rep < reps; rep++) {
    cli.push(await once("cli", workload, ops));
    page.push(await once("page", workload, ops));
  }
  const c = medianMinMax(cli);
  const p = medianMinMax(page);
  console.log(`buddy86 bench:live: workload=${workload} ops=${ops}, ${reps} runs each after a warm-up, ns per bridge call under Node`);
  console.log(`cli   best ${c.min.toFixed(1).padStart(7)}  median ${c.median.toFixed(1).padStart(7)}`);
  console.log(`page  best ${p.min.toFixed(1).padStart(7)}  median ${p.median.toFixed(1).padStart(7)}  | page at ${((100 * c.min) / p.min).toFixed(0)}% of the CLI's speed (best against best)`);
}

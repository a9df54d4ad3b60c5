// Host instructions per JavaScript function, exact: callgrind counts every instruction the process
// runs, V8's --perf-basic-prof map names the JIT code each one belongs to, and this script joins the
// two. With two runs of different lengths it prints the difference per call, the steady state with
// start-up and compilation cancelled out. This is how the observers' per-call costs in
// docs/observability.md were found (a sampling profiler of wall time is too coarse and too noisy on
// a shared 2-core VM for parts of a few hundred instructions).
//
//   node scripts/jit-profile.mjs [--top N] [--event E] -- node [node flags] SCRIPT ARGS...   one run, whole totals
//   node scripts/jit-profile.mjs [--top N] [--calls-per-unit K] --diff A B -- node ... SCRIPT ARGS-WITH-{N}
//     runs the command twice, {N} replaced by A then B, and prints instructions per call of the
//     difference: per unit of {N}, divided by K when each unit is K calls (a bench rep, say: `npm run
//     bench`'s W3 is 2,000,638 calls per rep, `--one W3 pure --reps {N}`). Example (the page's
//     observers on churn, without the emulator):
//   node scripts/jit-profile.mjs --diff 100000 300000 -- node --single-threaded --no-use-osr \
//     dist/bench/bench-observe.js --one page churn {N} --single
//
// Needs valgrind. Function names: "*name" optimized (TurboFan), "^name" baseline, "~name" interpreted.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
if (sep < 0 || sep === argv.length - 1) throw new Error("usage: jit-profile.mjs [--top N] [--diff A B] -- node [flags] SCRIPT ARGS");
const opts = argv.slice(0, sep);
const command = argv.slice(sep + 1);
const top = opts.includes("--top") ? Number(opts[opts.indexOf("--top") + 1]) : 30;
const diff = opts.includes("--diff") ? [Number(opts[opts.indexOf("--diff") + 1]), Number(opts[opts.indexOf("--diff") + 2])] : null;
const callsPerUnit = opts.includes("--calls-per-unit") ? Number(opts[opts.indexOf("--calls-per-unit") + 1]) : 1;
// --event E counts one of callgrind's simulated events instead of instructions: I1mr (L1 instruction
// misses), D1mr / D1mw (L1 data read / write misses), Bcm (mispredicted conditional branches), ...
const event = opts.includes("--event") ? opts[opts.indexOf("--event") + 1] : "Ir";
if (!(callsPerUnit > 0)) throw new Error("jit-profile: --calls-per-unit needs a positive number");

/** Instructions per function name for one run of the command. */
function profile(args) {
  const dir = mkdtempSync(join(tmpdir(), "jit-profile-"));
  try {
    const out = join(dir, "callgrind.out");
    const [node, ...rest] = args;
    const sim = event === "Ir" ? [] : ["--cache-sim=yes", "--branch-sim=yes"];
    const log = execFileSync("valgrind", ["--tool=callgrind", ...sim, "--dump-instr=yes", "--compress-pos=no", "--compress-strings=no", `--callgrind-out-file=${out}`, node, "--perf-basic-prof", ...rest], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 });
    void log;
    const pid = /^pid: (\d+)$/m.exec(readFileSync(out, "utf8").slice(0, 4096))[1];
    const mapFile = `/tmp/perf-${pid}.map`;
    const spans = readFileSync(mapFile, "utf8").split("\n").filter(Boolean).map((line) => {
      const [start, size, ...name] = line.split(" ");
      return [parseInt(start, 16), parseInt(size, 16), name.join(" ").replace(/ file:\/\/\S*\//, " ")];
    }).sort((a, b) => a[0] - b[0]);
    rmSync(mapFile, { force: true });
    const jitName = (addr) => {
      let lo = 0, hi = spans.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (spans[mid][0] <= addr) lo = mid + 1;
        else hi = mid - 1;
      }
      return hi >= 0 && addr < spans[hi][0] + spans[hi][1] ? spans[hi][2] : null;
    };
    const cost = new Map();
    const names = new Map();
    let obj = "?", fn = "?", inCall = false;
    // A cost line is "address line" then one number per event of the "events:" header, in its order.
    let column = -1;
    const named = (kind, s) => {
      const m = /^\((\d+)\)(?: (.*))?$/.exec(s);
      if (m === null) return s;
      if (m[2] !== undefined) names.set(kind + m[1], m[2]);
      return names.get(kind + m[1]) ?? "?";
    };
    for (const line of readFileSync(out, "utf8").split("\n")) {
      if (line.startsWith("events:")) {
        column = line.slice(7).trim().split(/\s+/).indexOf(event);
        if (column < 0) throw new Error(`jit-profile: callgrind counted no event ${event} (events: ${line.slice(7).trim()})`);
      } else if (line.startsWith("ob=")) obj = named("ob", line.slice(3));
      else if (line.startsWith("fn=")) fn = named("fn", line.slice(3));
      else if (line.startsWith("cob=") || line.startsWith("cfn=")) named(line.slice(0, 3), line.slice(4));
      else if (line.startsWith("calls=")) inCall = true;
      else if (line.startsWith("0x")) {
        if (inCall) { inCall = false; continue; } // the inclusive cost of a call, not this function's own
        const fields = line.split(" ");
        const addr = parseInt(fields[0], 16);
        const name = obj === "???" || fn.startsWith("0x") ? (jitName(addr) ?? "JIT (unnamed)") : `${obj.split("/").pop()}:${fn}`;
        cost.set(name, (cost.get(name) ?? 0) + Number(fields[2 + column] ?? 0));
      }
    }
    return cost;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
let rows;
if (diff === null) {
  const m = profile(command);
  rows = [["TOTAL", total(m)], ...m];
} else {
  const [a, b] = diff.map((n) => profile(command.map((arg) => arg.replaceAll("{N}", String(n)))));
  const per = (diff[1] - diff[0]) * callsPerUnit;
  const keys = new Set([...a.keys(), ...b.keys()]);
  rows = [["TOTAL (per call)", (total(b) - total(a)) / per], ...[...keys].map((k) => [k, ((b.get(k) ?? 0) - (a.get(k) ?? 0)) / per])];
}
rows.sort((x, y) => y[1] - x[1]);
for (const [name, v] of rows.slice(0, top + 1)) console.log(`${(diff === null ? v : v.toFixed(1)).toString().padStart(14)}  ${name}`);

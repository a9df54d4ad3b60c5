// `npm run profile:web`: where the page's guest worker spends its time in Chromium, function by
// function, beside the speed check's reference workers. Builds the page, opens it in headless
// Chromium (/usr/bin/chromium via playwright-core), attaches to every worker through the DevTools
// protocol, presses the Speed check once to warm every worker, then starts V8's sampling profiler in
// each and presses it again; prints each worker's self time per function in ns per bridge call of
// its own measured runs. The raw profiles are written to --out as .cpuprofile files (Chromium
// DevTools opens them). Churn at --ops 2500000 is 5 million calls per run: enough to rank functions.
// callgrind under Node (scripts/jit-profile.mjs) counts instructions exactly but runs Node's V8, not
// the browser's; this measures the browser's own code on the real page (docs/web-speed.md).
//   node --experimental-websocket scripts/profile-web.mjs [--workload churn] [--ops 2500000]
//        [--rounds 2] [--seed 1] [--top 30] [--interval 250] [--out test-results/profile-web]
//        [--js-flags=--no-turbo-inlining]

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildWeb } from "./build-web.mjs";
import { launchChromium, serveStatic } from "./serve-web.mjs";


const { values: opts } = parseArgs({
  options: {
    workload: { type: "string", default: "churn" },
    ops: { type: "string", default: "2500000" },
    rounds: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    top: { type: "string", default: "30" },
    interval: { type: "string", default: "250" },
    out: { type: "string", default: "test-results/profile-web" },
    // V8 flags for every worker, e.g. "--no-turbo-inlining" to see each function on its own (slower).
    "js-flags": { type: "string", default: "" },
  },
});
if (typeof WebSocket === "undefined") throw new Error("profile-web: run it with node --experimental-websocket (Node 20 has WebSocket behind that flag)");

/** A DevTools-protocol client over the browser's WebSocket, with flat sessions (one per target). */
class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = [];
    ws.addEventListener("message", (ev) => {
      const m = JSON.parse(ev.data);
      if (m.id === undefined) {
        for (const h of this.handlers) h(m);
        return;
      }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`profile-web: DevTools ${p.method}: ${m.error.message}`));
      else p.resolve(m.result);
    });
  }

  static async connect(url) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error(`profile-web: cannot connect to ${url}`)), { once: true });
    });
    return new Cdp(ws);
  }

  send(method, params = {}, sessionId = undefined) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  on(handler) {
    this.handlers.push(handler);
  }
}

/** The browser's DevTools WebSocket URL, once Chromium has written its port (it does so shortly after start). */
async function browserEndpoint(profileDir) {
  const portFile = join(profileDir, "DevToolsActivePort");
  for (let tries = 0; tries < 100 && !existsSync(portFile); tries++) await new Promise((r) => setTimeout(r, 100));
  const port = readFileSync(portFile, "utf8").split("\n")[0];
  const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
  return version.webSocketDebuggerUrl;
}

/** Presses the page's Speed check and waits for its new result. */
async function speedCheck(page) {
  await page.evaluate(() => void (window.profileWebLastSpeed = window.buddy86.speed));
  await page.click("#speed-check");
  await page.waitForFunction(() => window.buddy86.speed !== window.profileWebLastSpeed || window.buddy86.error !== null, null, { timeout: 15 * 60_000, polling: 250 });
  const { speed, error } = await page.evaluate(() => ({ speed: window.buddy86.speed, error: window.buddy86.error }));
  if (error !== null) throw new Error(`profile-web: the page failed: ${error}`);
  return speed;
}

/** Self time per function of a V8 .cpuprofile, in microseconds, without the idle samples. */
function selfTimes(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const times = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]);
    if (frame.functionName === "(idle)") continue;
    const file = frame.url === "" ? "" : ` ${frame.url.split("/").pop().split("?")[0]}`;
    const key = `${frame.functionName || "(anonymous)"}${file}`;
    times.set(key, (times.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return times;
}

const tmp = mkdtempSync(join(tmpdir(), "buddy86-profile-web-"));
try {
  await buildWeb({ outdir: join(tmp, "site"), sourcemap: false });
  const server = await serveStatic(join(tmp, "site"), 0);
  const profileDir = join(tmp, "profile");
  const jsFlags = opts["js-flags"] === "" ? [] : [`--js-flags=${opts["js-flags"]}`];
  const context = await launchChromium(profileDir, { args: ["--remote-debugging-port=0", ...jsFlags] });
  try {
    const cdp = await Cdp.connect(await browserEndpoint(profileDir));
    const interval = Number(opts.interval);
    /** Workers by session: the name they were started with (remote-run.ts) and whether they ended. */
    const workers = new Map();
    const errors = [];
    let profiling = false;
    const startProfiler = async (session) => {
      await cdp.send("Profiler.enable", {}, session);
      await cdp.send("Profiler.setSamplingInterval", { interval }, session);
      await cdp.send("Profiler.start", {}, session);
    };
    // Every target the page starts (its workers) attaches paused and is let go once it is set up,
    // whatever happens while setting it up (an error is reported at the end).
    cdp.on(async (m) => {
      if (m.method === "Target.detachedFromTarget") {
        const worker = workers.get(m.params.sessionId);
        if (worker !== undefined) worker.ended = true;
        return;
      }
      if (m.method !== "Target.attachedToTarget") return;
      const { sessionId, targetInfo } = m.params;
      try {
        if (targetInfo.type === "worker") {
          workers.set(sessionId, { name: targetInfo.title || targetInfo.url, ended: false });
          if (profiling) await startProfiler(sessionId);
        }
        await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, sessionId);
      } catch (error) {
        errors.push(error);
      } finally {
        await cdp.send("Runtime.runIfWaitingForDebugger", {}, sessionId).catch((error) => errors.push(error));
      }
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const { targetInfos } = await cdp.send("Target.getTargets");
    const { sessionId: pageSession } = await cdp.send("Target.attachToTarget", { targetId: targetInfos.find((t) => t.type === "page").targetId, flatten: true });
    await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, pageSession);

    await page.goto(`${server.url}?rounds=${Number(opts.rounds)}`);
    await page.selectOption("#workload", opts.workload);
    await page.fill("#ops", opts.ops);
    await page.fill("#seed", opts.seed);
    await page.waitForFunction(() => !window.buddy86.warming, null, { timeout: 5 * 60_000, polling: 100 });
    // A first Speed check, not profiled, starts and warms the reference workers (their warm-up is a
    // short demo run, the page's own warm-up) and lets V8 optimise every worker's code; the second is
    // the one profiled, so each worker's profile holds its path's measured runs and nothing else.
    await speedCheck(page);
    profiling = true;
    for (const session of workers.keys()) await startProfiler(session);
    const speed = await speedCheck(page);
    // The page's worker runs the page's runs, each reference worker its path's (src/web/remote-run.ts).
    const runsOf = { "buddy86 guest": speed.pageRuns, "buddy86 CLI-path reference": speed.cliRuns, "buddy86 --owners reference": speed.ownersRuns };
    const names = [...workers.values()].map((w) => w.name);
    for (const name of Object.keys(runsOf)) if (!names.includes(name)) throw new Error(`profile-web: no worker named "${name}" (workers: ${names.join(", ")}); src/web/remote-run.ts names them`);
    console.log(`buddy86 profile:web: ${speed.cmdline}, ${speed.calls} calls per run, ${speed.pageRuns.length} runs per path`);
    console.log(`ns per call: CLI path ${speed.cliRuns.map(Math.round).join(" ")}, --owners ${speed.ownersRuns.map(Math.round).join(" ")}, page ${speed.pageRuns.map(Math.round).join(" ")}`);
    const out = resolve(opts.out);
    mkdirSync(out, { recursive: true });
    for (const [session, { name, ended }] of workers) {
      const runs = runsOf[name];
      if (runs === undefined) continue;
      if (ended) throw new Error(`profile-web: the worker "${name}" ended before its profile was taken`);
      const { profile } = await cdp.send("Profiler.stop", {}, session);
      const file = join(out, `${name.replace(/[^A-Za-z0-9-]+/g, "-")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const perCall = 1000 / (runs.length * speed.calls);
      const times = [...selfTimes(profile)].sort((a, b) => b[1] - a[1]);
      // "(program)": samples outside any JavaScript or wasm, which in a worker include its waits.
      const busy = times.reduce((sum, [key, us]) => (key === "(program)" ? sum : sum + us), 0);
      console.log(`\n${name}: ${(busy / 1000).toFixed(0)} ms in code over ${runs.length} runs, ${(busy * perCall).toFixed(1)} ns per call (${file})`);
      for (const [key, us] of times.slice(0, Number(opts.top))) console.log(`${(us * perCall).toFixed(1).padStart(8)}  ${key}`);
    }
    if (errors.length > 0) throw new Error(`profile-web: attaching to the page's workers failed: ${errors.map(String).join("; ")}`);
  } finally {
    await context.close();
    await server.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// `npm run profile:web`: where the page's guest worker spends its time in Chromium, function by
// function, beside the speed check's CLI-path worker. Builds the page, opens it in headless Chromium
// (/usr/bin/chromium via playwright-core), attaches to every worker through the DevTools protocol,
// starts V8's sampling profiler in each once the page has warmed up, presses the Speed check, and
// prints each worker's self time per function in ns per bridge call (its runs' calls). The raw
// profiles are written to --out as .cpuprofile files (Chromium DevTools opens them).
// callgrind under Node (scripts/jit-profile.mjs) counts instructions exactly but runs Node's V8, not
// the browser's; this measures the browser's own code on the real page (docs/web-speed.md).
//   node --experimental-websocket scripts/profile-web.mjs [--workload churn] [--ops 2500000]
//        [--rounds 2] [--seed 1] [--top 30] [--interval 250] [--out test-results/profile-web]

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { buildWeb } from "./build-web.mjs";
import { serveStatic } from "./serve-web.mjs";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--remote-debugging-port=0"];

const { values: opts } = parseArgs({
  options: {
    workload: { type: "string", default: "churn" },
    ops: { type: "string", default: "2500000" },
    rounds: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    top: { type: "string", default: "30" },
    interval: { type: "string", default: "250" },
    out: { type: "string", default: "test-results/profile-web" },
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
      if (m.error !== undefined) p.reject(new Error(`${p.method}: ${m.error.message}`));
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
  const context = await chromium.launchPersistentContext(profileDir, { executablePath: "/usr/bin/chromium", headless: true, args: FLAGS, viewport: { width: 1560, height: 1200 } });
  try {
    const port = readFileSync(join(profileDir, "DevToolsActivePort"), "utf8").split("\n")[0];
    const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
    const cdp = await Cdp.connect(version.webSocketDebuggerUrl);
    const interval = Number(opts.interval);
    /** Workers by session: their name (new Worker's name option) and whether they are profiled. */
    const workers = new Map();
    let profiling = false;
    const startProfiler = async (session) => {
      await cdp.send("Profiler.enable", {}, session);
      await cdp.send("Profiler.setSamplingInterval", { interval }, session);
      await cdp.send("Profiler.start", {}, session);
    };
    // Every target the page starts (its workers) attaches paused, so none runs a line unprofiled.
    cdp.on(async (m) => {
      if (m.method !== "Target.attachedToTarget") return;
      const { sessionId, targetInfo } = m.params;
      if (targetInfo.type === "worker") {
        workers.set(sessionId, targetInfo.title || targetInfo.url);
        if (profiling) await startProfiler(sessionId);
      }
      await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, sessionId).catch(() => {});
      await cdp.send("Runtime.runIfWaitingForDebugger", {}, sessionId).catch(() => {});
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
    // From here on: the speed check's runs only (the guest worker's warm-up run is left out; the
    // reference workers start now and are profiled from their first line, their warm-up included).
    profiling = true;
    for (const session of workers.keys()) await startProfiler(session);
    await page.click("#speed-check");
    await page.waitForFunction(() => window.buddy86.speed !== null || window.buddy86.error !== null, null, { timeout: 15 * 60_000, polling: 250 });
    const { speed, error } = await page.evaluate(() => ({ speed: window.buddy86.speed, error: window.buddy86.error }));
    if (error !== null) throw new Error(`the page failed: ${error}`);
    console.log(`buddy86 profile:web: ${speed.cmdline}, ${speed.calls} calls per run, ${opts.rounds} runs per path`);
    console.log(`ns per call: CLI path ${speed.cliRuns.map(Math.round).join(" ")}, --owners ${speed.ownersRuns.map(Math.round).join(" ")}, page ${speed.pageRuns.map(Math.round).join(" ")}`);
    const out = resolve(opts.out);
    mkdirSync(out, { recursive: true });
    for (const [session, name] of workers) {
      const { profile } = await cdp.send("Profiler.stop", {}, session);
      const file = join(out, `${name.replace(/[^A-Za-z0-9-]+/g, "-")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      // The guest worker ran only the page's runs; a reference worker ran its warm-up run as well.
      const runs = name === "buddy86 guest" ? Number(opts.rounds) : Number(opts.rounds) + 1;
      const perCall = 1000 / (runs * speed.calls);
      const times = [...selfTimes(profile)].sort((a, b) => b[1] - a[1]);
      const busy = times.reduce((sum, [, us]) => sum + us, 0);
      console.log(`\n${name}: ${(busy / 1000).toFixed(0)} ms busy over ${runs} runs, ${(busy * perCall).toFixed(1)} ns per call (${file})`);
      for (const [key, us] of times.slice(0, Number(opts.top))) console.log(`${(us * perCall).toFixed(1).padStart(8)}  ${key}`);
    }
  } finally {
    await context.close();
    await server.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

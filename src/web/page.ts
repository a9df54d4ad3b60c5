// The page's entry (web/index.html loads page.js, bundled from here; docs/web.md): wires the controls
// to a live run in the guest's worker (remote-run.ts) or a trace replay (replay.ts) and redraws the
// panels from whichever is active, every display frame while the guest runs (each panel redraws only
// when what it shows changed). window.buddy86 exposes the page's state for automation.

import type { BootReport } from "../cli/report.js";
import { ZONE_NAMES } from "../mem/index.js";
import { byId, composeCmdline, loadKernel, readSettings, setButtons } from "./controls.js";
import { drawBuddyinfoBars, drawUnusableIndex, type FreeBlockSamples } from "./charts.js";
import { EventLogView } from "./event-log.js";
import { LiveLogCanvas } from "./live-log.js";
import { FrameInspector } from "./inspector.js";
import type { RunSettings } from "./live-run.js";
import { MemoryMapView } from "./map-view.js";
import { hexAddr, zoneSpans, type MemorySnapshot } from "./model.js";
import type { ColourMode } from "./palette.js";
import { RemoteRun, remoteCliRun, warmReferences, warmUp } from "./remote-run.js";
import { TraceReplay } from "./replay.js";
import { StatusLine, renderLegend, setText } from "./panels.js";
import { speedCheck, type SpeedResult } from "./speed-check.js";
import { OwnerColouring, liveSource, replaySource, type ViewSource } from "./view-source.js";
import type { PacketStats } from "./worker-protocol.js";

/** The page's state for automation (tests, scripts). */
export interface PageApi {
  /** idle, booting, running, paused, exited, stopped, timeout, fault, host-error, replay or error. */
  readonly state: string;
  /** Hypercalls answered so far in the current run. */
  readonly calls: number;
  /** The `buddy86 boot --json` report of the last run that ended. */
  readonly report: BootReport | null;
  readonly speed: SpeedResult | null;
  readonly error: string | null;
  readonly replaySeq: number;
  /** Display frames drawn and the milliseconds spent drawing them (the page's own cost). */
  readonly drawStats: { frames: number; ms: number };
  /** The last ended run's packets and the worker's milliseconds building them (time taken from the guest). */
  readonly packetStats: PacketStats | null;
  /** True while the warm-up run the page makes when it opens is going (see Page.warm). */
  readonly warming: boolean;
  /** How the warm-up ended (exit, stopped by a Run, skipped), its calls and milliseconds; null before. */
  readonly warmUp: { reason: string; calls: number; ms: number } | null;
}

declare global {
  interface Window {
    buddy86?: PageApi;
  }
}

/**
 * How often the text counters (the status line's calls and free frames, the event count, a replay's
 * call) move on while they move: four times a second, as a person reads a counter; the panels move
 * every frame.
 */
const COUNTER_MS = 250;
/** The warm-up's guest and length: the bundled guest's demo at 200 ops, about 66,000 calls (2 s here). */
const BUNDLED_KERNEL = "images/buddy86-guest.elf";
const WARM_OPS = 200;

class Page {
  private run: RemoteRun | null = null;
  private replay: TraceReplay | null = null;
  private state = "idle";
  private error: string | null = null;
  private speed: SpeedResult | null = null;
  private readonly map = new MemoryMapView(byId<HTMLCanvasElement>("map"));
  private readonly statusLine = new StatusLine(byId("status"));
  /** When draw last wrote the counters a moving run changes every frame (status line, event count). */
  private countersAt = 0;
  private readonly liveLog = new LiveLogCanvas(byId<HTMLCanvasElement>("events-live"), byId("events"));
  private readonly eventView = new EventLogView(byId("events"), this.liveLog);
  private mode: ColourMode = "order";
  private readonly inspector = new FrameInspector(byId("inspector"), () => (this.dirty = true));
  private dirty = true;
  /** The buddyinfo text last drawn (the panel and its bars are redrawn when it changes). */
  private buddyinfoShown: string | null = null;
  /** The RAM size of the last live run (its zoom is kept for a run of the same size). */
  private lastMemoryBytes = -1;
  private drawnSeq = -2;
  /** The owner table the map was last drawn with (a new one, a paused run's first, redraws it). */
  private drawnOwners: object | null = null;
  private consoleShown = 0;
  private consoleFollow = true;
  private zoneKey = "";
  private playing = false;
  private readonly owners = new OwnerColouring();
  /** What the chart shows now (it is redrawn only when this changes). */
  private chartShown: { samples: FreeBlockSamples | null; key: string } = { samples: null, key: "" };
  readonly drawStats = { frames: 0, ms: 0 };

  private warming = false;
  private warmResult: { reason: string; calls: number; ms: number } | null = null;
  /** The warm-up's run settings (null: no warm-up), and its end, which the speed check waits for. */
  private warmSettings: RunSettings | null = null;
  private warmDone: Promise<void> = Promise.resolve();

  constructor() {
    this.wireControls();
    this.inspector.wireMap(this.map, byId("zoom-label"), (range) => this.zoom(range));
    this.inspector.wireLog(byId("events"), this.liveLog);
    setButtons("idle");
    requestAnimationFrame((t) => this.frame(t));
    // ?warm=0 leaves the warm-up out; ?warm=N makes it N ops (a test needs one still going when it presses Run).
    const warmOps = Number(new URLSearchParams(location.search).get("warm") ?? WARM_OPS);
    if (warmOps !== 0) this.warmDone = this.warm(Number.isInteger(warmOps) && warmOps > 0 ? warmOps : WARM_OPS);
  }

  /**
   * The warm-up: as the page opens, its guest worker runs the bundled guest's demo for `ops` ops,
   * unseen. A cold worker's first run is the slowest by far: v86.wasm not yet optimised, the guest's
   * hot code not yet compiled, the observers' JavaScript not yet optimised, all of it on the cores the
   * guest and the page's drawing need (docs/web.md, "The first run"). Pressing Run stops the warm-up
   * at its next call. `?warm=0` in the URL leaves it out, `?warm=N` runs N ops (WARM_OPS by default).
   */
  private async warm(ops: number): Promise<void> {
    this.warming = true;
    const status = byId("status");
    const idleText = status.textContent;
    status.textContent = "Warming up the emulator (a short run of the bundled guest, not shown)… Run starts at once.";
    try {
      const response = await fetch(BUNDLED_KERNEL);
      if (!response.ok) throw new Error(`could not load ${BUNDLED_KERNEL}: HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      let base: RunSettings;
      try {
        base = readSettings(bytes, BUNDLED_KERNEL);
      } catch {
        // A control the user already set to a bad value: Run will say so; the warm-up just does not run.
        this.warmResult = { reason: "skipped", calls: 0, ms: 0 };
        return;
      }
      const settings = { ...base, cmdline: composeCmdline("demo", 1, ops), pcp: true, poison: false, pauseAtMark: "", callsPerFrame: 0 };
      this.warmSettings = settings;
      const { reason, calls, ms } = await warmUp(settings);
      this.warmResult = { reason, calls, ms };
    } catch (error) {
      this.fail(error);
    } finally {
      this.warming = false;
      if (this.run === null && this.replay === null && this.error === null) status.textContent = idleText;
    }
  }

  api(): PageApi {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const page = this;
    return {
      get state() {
        return page.state;
      },
      get calls() {
        return page.run?.calls ?? 0;
      },
      get report() {
        return page.run?.report ?? null;
      },
      get speed() {
        return page.speed;
      },
      get error() {
        return page.error;
      },
      get replaySeq() {
        return page.replay?.seq ?? -1;
      },
      get drawStats() {
        return page.drawStats;
      },
      get packetStats() {
        return page.run?.packetStats ?? null;
      },
      get warming() {
        return page.warming;
      },
      get warmUp() {
        return page.warmResult;
      },
    };
  }

  private source(): ViewSource | null {
    const owners = this.mode === "owner" ? this.owners : null;
    if (this.run !== null) return liveSource(this.run, owners);
    if (this.replay !== null) return replaySource(this.replay, owners, this.playing);
    return null;
  }

  // ---- drawing ----

  private frame(now: number): void {
    requestAnimationFrame((t) => this.frame(t));
    const start = performance.now();
    try {
      this.draw(now);
    } catch (error) {
      this.fail(error);
    }
    this.drawStats.frames++;
    this.drawStats.ms += performance.now() - start;
  }

  private draw(now: number): void {
    this.run?.requestFrame(this.mode === "owner");
    if (this.playing) this.advanceReplay();
    const src = this.source();
    if (src === null) return;
    const snap = src.snapshot;
    if (this.inspector.stale(snap, now)) this.dirty = true;
    if (snap !== null && (this.dirty || snap.seq !== this.drawnSeq || src.moving || src.ownerTable !== this.drawnOwners)) {
      this.drawnSeq = snap.seq;
      this.drawnOwners = src.ownerTable;
      this.inspector.update(src.details, snap, now);
      this.owners.clear();
      this.map.render(snap, this.mode, src.ownerColourOf, this.inspector.selected);
      this.updateZoomButtons(snap);
    }
    if (src.buddyinfo !== null && (this.dirty || src.buddyinfo.text !== this.buddyinfoShown)) {
      this.buddyinfoShown = src.buddyinfo.text;
      byId("buddyinfo").textContent = src.buddyinfo.text;
      drawBuddyinfoBars(byId<HTMLCanvasElement>("buddyinfo-bars"), src.buddyinfo.zones);
    }
    this.renderConsole();
    // Counters a moving run changes every frame are text: written at most every COUNTER_MS then (a
    // DOM change costs the page a layout and a paint, the log's canvas does not: live-log.ts).
    const counters = !src.moving || now - this.countersAt >= COUNTER_MS;
    if (counters) this.countersAt = now;
    this.renderStatus(counters);
    renderLegend(byId("legend"), this.mode, snap?.maxOrder ?? 10, this.owners.frames);
    this.renderChart(src);
    if (src.events !== null) {
      this.eventView.render(src.events.total, src.events.lines, src.moving);
      if (counters) setText(byId("event-count"), `${src.events.total} events`);
    }
    this.dirty = false;
  }

  private renderChart(src: ViewSource): void {
    const samples = src.samples;
    const select = byId<HTMLSelectElement>("frag-zone");
    const key = samples === null ? "" : samples.zones.join(",");
    if (key !== select.dataset.zones) {
      select.dataset.zones = key;
      select.replaceChildren(...(samples?.zones ?? []).map((z, i) => new Option(ZONE_NAMES[z]!, String(i))));
      // The zone with the most free memory at the first sample (Normal, when present).
      const first = samples?.freeFrames[0] ?? [];
      select.value = String(Math.max(0, first.indexOf(Math.max(...first))));
    }
    const key2 = `${select.value}:${src.cursorSeq}`;
    if (samples === this.chartShown.samples && key2 === this.chartShown.key && !this.dirty) return;
    this.chartShown = { samples, key: key2 };
    drawUnusableIndex(byId<HTMLCanvasElement>("frag"), samples, Number(select.value), src.cursorSeq);
  }

  /** Appends the console lines that arrived since the last call (rewrites it all after a trim). */
  private renderConsole(): void {
    const run = this.run;
    if (run === null || run.consoleVersion === this.consoleShown) return;
    const el = byId("console");
    const firstKept = run.consoleVersion - run.console.length;
    if (this.consoleShown < firstKept || el.childNodes.length > 512) el.textContent = run.console.join("\n") + "\n";
    else el.append(run.console.slice(this.consoleShown - firstKept).join("\n") + "\n");
    this.consoleShown = run.consoleVersion;
    if (this.consoleFollow) el.scrollTop = el.scrollHeight;
  }

  /** The status line; `counters`: a running guest's call count may move on (see draw). */
  private renderStatus(counters = true): void {
    this.statusLine.render(this.error, this.run, this.replay, counters);
  }

  private updateZoomButtons(snap: MemorySnapshot): void {
    const spans = zoneSpans(snap);
    const key = spans.map((z) => `${z.name}:${z.startPfn}`).join(",");
    if (key === this.zoneKey) return;
    this.zoneKey = key;
    const buttons = [["all", 0, snap.ramPfns] as const, ...spans.map((z) => [z.name, z.startPfn, z.endPfn] as const)].map(([name, start, end]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = name;
      b.dataset.zoom = name;
      b.addEventListener("click", () => this.zoom(name === "all" ? null : [start, end]));
      return b;
    });
    byId("zoom-buttons").replaceChildren(...buttons);
  }

  private zoom(range: [number, number] | null): void {
    this.map.zoom(range);
    byId("zoom-label").textContent = range === null ? "" : `${hexAddr(range[0])}..${hexAddr(range[1])}`;
    this.dirty = true;
  }

  // ---- controls ----

  private wireControls(): void {
    const consoleEl = byId("console");
    consoleEl.addEventListener("scroll", () => {
      this.consoleFollow = consoleEl.scrollTop + consoleEl.clientHeight >= consoleEl.scrollHeight - 4;
    });
    byId("run").addEventListener("click", () => {
      if (this.run !== null && this.run.state === "paused") this.resumed(() => this.run!.resume());
      else void this.startRun().catch((e) => this.fail(e));
    });
    byId("pause").addEventListener("click", () => this.run?.pause());
    byId("step").addEventListener("click", () => {
      const n = Math.max(1, Math.floor(Number(byId<HTMLInputElement>("step-n").value)) || 1);
      if (this.run !== null) this.resumed(() => this.run!.step(n));
    });
    byId("stop").addEventListener("click", () => this.run?.stop());
    byId("speed").addEventListener("change", () => this.run?.setSpeed(Number(byId<HTMLSelectElement>("speed").value)));
    byId("colour-mode").addEventListener("change", () => {
      this.mode = byId<HTMLSelectElement>("colour-mode").value as ColourMode;
      this.dirty = true;
    });
    byId("frag-zone").addEventListener("change", () => (this.dirty = true));
    byId("kernel").addEventListener("change", () => {
      byId<HTMLInputElement>("kernel-file").hidden = byId<HTMLSelectElement>("kernel").value !== "file";
    });
    byId("speed-check").addEventListener("click", () => void this.runSpeedCheck().catch((e) => this.fail(e)));
    byId("trace-file").addEventListener("change", () => void this.openTrace().catch((e) => this.fail(e)));
    byId("replay-seq").addEventListener("input", () => {
      this.replay?.seek(Number(byId<HTMLInputElement>("replay-seq").value));
      this.dirty = true;
    });
    byId("replay-play").addEventListener("click", () => {
      this.playing = !this.playing && this.replay !== null;
      // Play at the end plays again from the start.
      if (this.playing && this.replay!.seq >= this.replay!.lastSeq) {
        this.replay!.seek(this.replay!.firstSeq);
        byId<HTMLInputElement>("replay-seq").value = String(this.replay!.seq);
      }
      byId("replay-play").textContent = this.playing ? "Pause" : "Play";
    });
  }

  /**
   * Resume and Step: the page says "running" in the click's own task, so whoever waits for the next
   * pause never takes the last one for it.
   */
  private resumed(action: () => void): void {
    action();
    if (this.run !== null && this.run.state === "running") {
      this.state = "running";
      setButtons("running");
    }
  }

  /** Starts a live run from the controls and waits for its end. */
  private async startRun(): Promise<BootReport> {
    // The state changes before the first await: whoever pressed Run must never see the last run's
    // end (and, a moment later, this run's missing report) as this run's.
    this.state = "booting";
    this.error = null;
    // Nor the last run's calls, report or packets: until the new run exists there is none.
    this.run = null;
    setButtons("busy");
    const kernel = await loadKernel();
    return this.runLive(readSettings(kernel.bytes, kernel.name));
  }

  /** Runs `settings` in a fresh worker with every panel live; resolves with its report once ended. */
  private async runLive(settings: RunSettings): Promise<BootReport> {
    this.stopReplay();
    this.forgetView();
    this.consoleShown = 0;
    this.drawnSeq = -2;
    byId("console").textContent = "";
    byId("reports").textContent = "";
    // Nothing of the last run stays on screen: until this run's MEMMAP (forever, for a kernel that
    // makes none or a boot that fails) there is no memory to draw.
    this.map.clear();
    byId("buddyinfo").textContent = "";
    drawBuddyinfoBars(byId<HTMLCanvasElement>("buddyinfo-bars"), []);
    this.buddyinfoShown = null;
    // Another RAM size has other frames: a zoom into the last one's would show a clamped sliver.
    if (settings.memoryBytes !== this.lastMemoryBytes) this.zoom(null);
    this.lastMemoryBytes = settings.memoryBytes;
    const run = new RemoteRun(settings);
    this.run = run;
    this.state = "booting";
    setButtons("booting");
    const watch = setInterval(() => {
      if (this.run !== run) return;
      if (run.state !== this.state && run.report === null && run.error === null) {
        this.state = run.state;
        setButtons(run.state === "ended" ? "busy" : run.state);
      }
    }, 50);
    try {
      await run.done;
    } finally {
      clearInterval(watch);
    }
    if (run.error !== null) throw new Error(run.error);
    const report = run.report!;
    byId("reports").textContent = run.reportsText;
    // Draw the final state before saying the run is over: what the page shows then is the end.
    this.dirty = true;
    this.draw(performance.now());
    this.state = report.reason === "exit" ? "exited" : report.reason;
    setButtons("idle");
    this.renderStatus();
    return report;
  }

  private async runSpeedCheck(): Promise<void> {
    setButtons("busy");
    const out = byId("speed-result");
    out.hidden = false;
    // ?rounds=N in the page's URL asks for more runs of each (npm run bench:web uses it).
    const rounds = Math.max(1, Math.min(10, Number(new URLSearchParams(location.search).get("rounds") ?? 2) || 2));
    // Worker for worker, as warm as the page's: the check waits for the page's warm-up, then gives each
    // reference worker the same one (unmeasured), so that no round compares a warm worker with a cold one.
    out.textContent = "speed check: warming its reference workers as the page's was warmed…";
    await this.warmDone;
    if (this.warmSettings !== null) await warmReferences(this.warmSettings);
    out.textContent = `speed check: one unmeasured run of the CLI's code path and of the live page, then ${rounds} rounds of the two in pairs and its --owners path…`;
    const kernel = await loadKernel();
    const result = await speedCheck(readSettings(kernel.bytes, kernel.name), remoteCliRun, (s) => this.runLive(s), rounds);
    this.speed = result;
    out.dataset.cliNsPerCall = String(result.cliNsPerCall);
    out.dataset.pageNsPerCall = String(result.pageNsPerCall);
    const runs = (list: number[]): string => list.map((n) => n.toFixed(0)).join(", ");
    const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
    out.textContent =
      `speed check (${result.cmdline}, ${result.calls} calls), best ns per bridge call: CLI path ${result.cliNsPerCall.toFixed(0)} ` +
      `(${runs(result.cliRuns)}), CLI --owners ${result.ownersNsPerCall.toFixed(0)} (${runs(result.ownersRuns)}), live page ` +
      `${result.pageNsPerCall.toFixed(0)} (${runs(result.pageRuns)}): the page runs at ${pct(result.pairedRelativeSpeed)} of the CLI's speed ` +
      `(the median of the rounds' back-to-back pairs; best run against best run ${pct(result.relativeSpeed)}, ` +
      `median against median ${pct(result.medianRelativeSpeed)})`;
    setButtons("idle");
  }

  private async openTrace(): Promise<void> {
    const file = byId<HTMLInputElement>("trace-file").files?.[0];
    if (file === undefined) return;
    const replay = new TraceReplay(await file.text());
    this.run = null;
    this.replay = replay;
    this.state = "replay";
    this.forgetView();
    byId("console").textContent = `replaying ${file.name}\n${JSON.stringify(replay.model.otherData, null, 1)}`;
    const slider = byId<HTMLInputElement>("replay-seq");
    slider.min = String(replay.firstSeq);
    slider.max = String(replay.lastSeq);
    slider.value = String(replay.seq);
    slider.disabled = false;
    byId<HTMLButtonElement>("replay-play").disabled = false;
    this.dirty = true;
  }

  /**
   * A new run or replay starts from a blank inspector (FrameInspector.forget: no answer about the
   * last one's frames is taken any more), legend and zoom buttons.
   */
  private forgetView(): void {
    this.error = null;
    this.inspector.forget();
    this.zoneKey = "";
    this.owners.clear();
    byId("zoom-buttons").replaceChildren();
  }

  private advanceReplay(): void {
    const replay = this.replay!;
    const step = Math.max(1, Math.round((replay.lastSeq - replay.firstSeq) / 600));
    replay.seek(replay.seq + step);
    byId<HTMLInputElement>("replay-seq").value = String(replay.seq);
    if (replay.seq >= replay.lastSeq) {
      this.playing = false;
      byId("replay-play").textContent = "Play";
    }
    this.inspector.dropDetails();
    this.dirty = true;
  }

  private stopReplay(): void {
    this.replay = null;
    this.playing = false;
    byId<HTMLInputElement>("replay-seq").disabled = true;
    byId<HTMLButtonElement>("replay-play").disabled = true;
  }

  private fail(error: unknown): void {
    this.error = error instanceof Error ? error.message : String(error);
    this.state = "error";
    setButtons(this.run !== null && this.run.state !== "ended" ? this.run.state : "idle");
    this.dirty = true;
    this.renderStatus();
  }
}

const page = new Page();
window.buddy86 = page.api();

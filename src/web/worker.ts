// The guest's worker (bundled as worker.js, started by remote-run.ts): runs the page's LiveRuns one
// after the other - runMachine with the browser platform, observed by src/observe, as any host runs
// it - and, for the speed check, runs down the CLI's code path. It answers the page's messages
// (worker-protocol.ts): one packet per "frame" request, with a copy of the allocator's state bytes
// when they changed and, when asked, the slower panels' data.

import { buildReport } from "../cli/report.js";
import { isElf, readElf32, runMachine, type MachineResult } from "../machine/index.js";
import { ObserveSession } from "../observe/session.js";
import { browserPlatform } from "../host/browser-platform.js";
import { formatEvent, recentLines } from "./event-log.js";
import { FRAME_ALLOC, FRAME_CONTIG_HEAD } from "../mem/index.js";
import { LiveRun, type RunSettings } from "./live-run.js";
import { OwnerTableBuilder, STATE_SHIFT, type OwnerTable } from "./model.js";
import { TimelineFeed } from "../observe/timeline.js";
import type { FramePacket, FromWorker, PacketStats, ToWorker } from "./worker-protocol.js";

/**
 * Event lines a packet carries. While the guest runs they all change every frame and the page draws
 * them on a canvas (live-log.ts), so a running guest sends what the panel shows at once (about 17
 * lines); a paused or ended one sends the last EVENT_LINES_STOPPED, to scroll back through.
 */
const EVENT_LINES_RUNNING = 20;
const EVENT_LINES_STOPPED = 80;

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

let run: LiveRun | null = null;
let sentGeometry = false;
let sentMetaSeq = -2;
/** The call whose owner table the page has (sent once per state: the page keeps it). */
let sentOwnerSeq = -2;
/** The buddyinfo text the page has (sent only when it changes). */
let sentBuddyinfo = "";
/** Buffers of state-byte copies the page gave back, to be filled again. */
let metaPool: ArrayBuffer[] = [];
let sentConsole = 0;
let sentEvents = -1;
let sentEventLines = 0;
/** What the page's copy of the timeline lacks. */
let timelineFeed: TimelineFeed | null = null;
let packetStats: PacketStats = { packets: 0, ms: 0, stateCopies: 0, recycled: 0 };

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function fail(error: unknown): void {
  post({ type: "error", message: error instanceof Error ? error.message : String(error) });
}

scope.onmessage = (event) => {
  try {
    handle(event.data);
  } catch (error) {
    fail(error);
  }
};

function handle(m: ToWorker): void {
  switch (m.type) {
    case "start":
      start(m.settings);
      break;
    case "warm":
      warm(m.settings);
      break;
    case "cli-run":
      cliRun(m.settings, m.observed).then((r) => post({ type: "cli-result", report: buildReport(r) }), fail);
      break;
    case "pause":
    case "resume":
    case "step":
    case "stop":
    case "speed":
      if (run !== null) control(run, m);
      else if (starting) heldControls.push(m);
      break;
    case "frame":
      // Every request gets its packet (the page keeps one in flight): while v86.wasm is still being
      // compiled for a new run there is nothing to show but that it is booting.
      if (run === null) {
        post({ type: "packet", state: "booting", calls: 0, seq: -1, freeFrames: -1, lastMark: null });
        break;
      }
      if (m.recycle !== undefined) metaPool.push(m.recycle);
      run.tick();
      sendPacket(m.ownerIds);
      break;
    case "inspect":
      if (run === null) {
        post({ type: "inspect-result", id: m.id, owner: null, history: [] });
        break;
      }
      post({ type: "inspect-result", id: m.id, owner: run.ownerOf(m.pfn), history: run.events.historyOf(m.pfn).map((e) => formatEvent(e, false)) });
      break;
  }
}

/**
 * v86.wasm, compiled once for every run of this worker. Each boot would otherwise compile its 2 MB
 * anew, and the optimizing tier then recompiles it on background threads for seconds of CPU, which
 * on a small machine takes cores from the guest's thread; a module kept here is optimized once.
 */
let v86Wasm: { url: string; module: Promise<WebAssembly.Module> } | null = null;

function v86Module(url: string): Promise<WebAssembly.Module> {
  if (v86Wasm === null || v86Wasm.url !== url) {
    const module = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
      // Streaming compilation needs the server to say application/wasm; any server will do otherwise.
      if (response.headers.get("content-type") === "application/wasm") return WebAssembly.compileStreaming(response);
      return WebAssembly.compile(await response.arrayBuffer());
    });
    // A failed load is not kept: the next run tries again (and reports its own error).
    module.catch(() => (v86Wasm = null));
    v86Wasm = { url, module };
  }
  return v86Wasm.module;
}

/** A run's start is waiting for v86.wasm. */
let starting = false;
/**
 * Controls that arrived while starting (the page lets Stop and the speed change while it boots): the
 * run gets them, in order, as soon as it exists. Dropped, a Stop let the run go to its end and a
 * speed chosen during the boot was not the run's.
 */
let heldControls: RunControl[] = [];

type RunControl = Extract<ToWorker, { type: "pause" | "resume" | "step" | "stop" | "speed" }>;

function control(live: LiveRun, m: RunControl): void {
  if (m.type === "pause") live.pause();
  else if (m.type === "resume") live.resume();
  else if (m.type === "step") live.step(m.n);
  else if (m.type === "stop") live.stop();
  else live.callsPerFrame = m.callsPerFrame;
}

/**
 * The warm-up run (ToWorker "warm"), while it lasts. It is not `run`: the page gets no packets of it
 * and its controls never reach it. A start that arrives meanwhile stops it and begins once it ended.
 */
let warmRun: LiveRun | null = null;
let startAfterWarm: LiveRun["settings"] | null = null;

/**
 * Runs `settings` once, unseen, unless a run came first: the first run the user starts then finds
 * v86.wasm optimised, the guest's hot code compiled (src/host/wasm-cache.ts) and the observers'
 * JavaScript optimised (docs/web.md, "The first run").
 */
function warm(settings: LiveRun["settings"]): void {
  const skipped = (): void => post({ type: "warmed", reason: "skipped", calls: 0, ms: 0 });
  if (starting || run !== null || warmRun !== null) return skipped();
  const t0 = performance.now();
  const failed = (error: unknown, calls: number): void =>
    post({ type: "warmed", reason: "error", calls, ms: performance.now() - t0, message: error instanceof Error ? error.message : String(error) });
  v86Module(settings.wasmUrl).then(
    (module) => {
      // A start that arrived while v86.wasm compiled goes first (its own then() runs after this one).
      if (starting || run !== null) return skipped();
      const live = new LiveRun(settings, module);
      warmRun = live;
      live
        .start()
        .then(
          () => post({ type: "warmed", reason: live.report?.reason ?? "none", calls: live.calls, ms: performance.now() - t0 }),
          (error: unknown) => failed(error, live.calls),
        )
        .finally(() => {
          // A start that came meanwhile begins now that the warm-up's emulator is gone.
          warmRun = null;
          const next = startAfterWarm;
          startAfterWarm = null;
          if (next !== null) load(next);
        });
    },
    (error: unknown) => failed(error, 0),
  );
}

function start(settings: LiveRun["settings"]): void {
  if (starting || (run !== null && run.state !== "ended")) throw new Error("worker: a run is still going (one at a time)");
  starting = true;
  heldControls = [];
  // Until the new LiveRun exists, requests are answered for no run (never for the last one).
  run = null;
  if (warmRun !== null) {
    // Controls that arrive meanwhile are held for the new run, as while v86.wasm loads.
    startAfterWarm = settings;
    warmRun.stop();
    return;
  }
  load(settings);
}

/** Starts `settings` once v86.wasm is compiled; `starting` is set. */
function load(settings: LiveRun["settings"]): void {
  v86Module(settings.wasmUrl).then(
    (module) => {
      starting = false;
      begin(settings, module);
    },
    (error: unknown) => {
      starting = false;
      fail(error);
    },
  );
}

function begin(settings: LiveRun["settings"], module: WebAssembly.Module): void {
  const live = new LiveRun(settings, module);
  run = live;
  for (const m of heldControls) control(live, m);
  heldControls = [];
  sentGeometry = false;
  sentMetaSeq = -2;
  sentOwnerSeq = -2;
  sentBuddyinfo = "";
  metaPool = [];
  sentConsole = 0;
  sentEvents = -1;
  sentEventLines = 0;
  timelineFeed = new TimelineFeed(live.timeline);
  packetStats = { packets: 0, ms: 0, stateCopies: 0, recycled: 0 };
  live.start().then(
    () => {
      // With the owner table, so that owner colouring shows the final state too.
      const last = packet(true);
      const poisonViolations = live.debug?.poison?.violationCount ?? 0;
      post({ type: "ended", report: live.report!, reportsText: live.reportsText, finalPacket: last.packet, packetStats, poisonViolations }, last.transfer);
    },
    fail,
  );
}

function sendPacket(ownerIds: boolean): void {
  const t0 = performance.now();
  const { packet: p, transfer } = packet(ownerIds);
  post(p, transfer);
  packetStats.packets++;
  packetStats.ms += performance.now() - t0;
}

/** What changed since the last packet (see worker-protocol.ts), and the buffers to transfer with it. */
function packet(ownerIds: boolean): { packet: FramePacket; transfer: Transferable[] } {
  const r = run!;
  const snap = r.snapshot;
  const marks = r.hub.bridge?.marks ?? [];
  const p: FramePacket = {
    type: "packet",
    state: r.state,
    calls: r.calls,
    seq: snap?.seq ?? -1,
    freeFrames: r.freeFrames,
    lastMark: marks.length > 0 ? { ...marks[marks.length - 1]! } : null,
  };
  const transfer: Transferable[] = [];
  if (snap !== null) {
    if (!sentGeometry) {
      sentGeometry = true;
      p.geometry = {
        maxOrder: snap.maxOrder,
        basePfn: snap.basePfn,
        frameCount: snap.meta.length,
        zoneLo: snap.zoneLo,
        zoneHi: snap.zoneHi,
        zoneManaged: snap.zoneManaged,
        ramPfns: snap.ramPfns,
        reserved: snap.reserved,
      };
    }
    // The state bytes only when a call changed them, buddyinfo only when its text did (the page
    // redraws what it gets): a churning guest's calls mostly leave the buddy lists as they were, and
    // each buddyinfo sent cost the page a text panel's layout and a canvas of bars per frame.
    if (snap.seq !== sentMetaSeq || p.geometry !== undefined) {
      sentMetaSeq = snap.seq;
      p.meta = copyMeta(snap.meta);
      transfer.push(p.meta.buffer);
      const buddy = r.hub.allocator!;
      const text = r.report?.buddyinfo ?? buddy.buddyinfo();
      if (text !== sentBuddyinfo) {
        sentBuddyinfo = text;
        p.buddyinfo = { text, zones: buddy.zones().map((z) => ({ name: z.name, freeBlocks: z.freeBlocks })) };
      }
    }
    p.samples = timelineFeed!.next();
    transfer.push(p.samples.raw.buffer);
    if (ownerIds && snap.seq !== sentOwnerSeq) {
      sentOwnerSeq = snap.seq;
      p.ownerIds = ownerTable(r, snap.basePfn, snap.meta);
      transfer.push(p.ownerIds.ids.buffer);
    }
  }
  const lines = r.state === "running" ? EVENT_LINES_RUNNING : EVENT_LINES_STOPPED;
  if (r.events.total !== sentEvents || lines !== sentEventLines) {
    sentEvents = r.events.total;
    sentEventLines = lines;
    p.events = { total: r.events.total, lines: recentLines(r.events, lines) };
  }
  const firstKept = r.consoleVersion - r.console.length;
  if (r.consoleVersion > sentConsole) {
    p.console = r.console.slice(Math.max(0, sentConsole - firstKept));
    sentConsole = r.consoleVersion;
  }
  return { packet: p, transfer };
}

/** A copy of the state bytes, in a buffer the page gave back when one of the right size is at hand. */
function copyMeta(meta: Uint8Array): Uint8Array {
  packetStats.stateCopies++;
  let buffer = metaPool.pop();
  while (buffer !== undefined && buffer.byteLength !== meta.length) buffer = metaPool.pop();
  if (buffer === undefined) return meta.slice();
  const copy = new Uint8Array(buffer);
  copy.set(meta);
  packetStats.recycled++;
  return copy;
}

/** For owner colouring: every frame of a live allocation -> the index of its owner's name. */
function ownerTable(r: LiveRun, basePfn: number, meta: Uint8Array): OwnerTable {
  const table = new OwnerTableBuilder(meta.length);
  const owner = r.owner;
  if (owner === null) return table.table;
  // One pass over the heads of allocated blocks (and contig ranges); the page owner names each.
  for (let idx = 0; idx < meta.length; idx++) {
    const state = meta[idx]! >>> STATE_SHIFT;
    if (state !== FRAME_ALLOC && state !== FRAME_CONTIG_HEAD) continue;
    const row = owner.rowOfFrame(idx + basePfn);
    if (row < 0 || !owner.isLive(row)) continue;
    table.add(idx, owner.npagesOf(row), r.sym.ownerOf(r.hub.depot, owner.allocStackOf(row)));
  }
  return table.table;
}

/** One run the way `buddy86 boot --json` runs it, or `buddy86 boot --owners --json` (observed). */
async function cliRun(s: RunSettings, observed: boolean): Promise<MachineResult> {
  const elf = isElf(s.kernel) ? readElf32(s.kernel) : null;
  const session = observed ? new ObserveSession({ elf, owners: true }) : null;
  const result = await runMachine({
    kernel: s.kernel,
    platform: browserPlatform(s.wasmUrl),
    wasmModule: await v86Module(s.wasmUrl),
    memoryBytes: s.memoryBytes,
    cmdline: s.cmdline,
    maxOrder: s.maxOrder,
    pcp: s.pcp ? undefined : false,
    observer: session?.hub ?? null,
  });
  session?.finish(result);
  return result;
}

// The page's handle on a run in the guest's worker (worker.ts): sends the controls, asks for one
// packet per display frame and keeps the latest of everything the panels draw - the allocator's
// state bytes as a MemorySnapshot, buddyinfo, timeline samples, event lines, console lines. One
// worker serves the page's runs one after the other (each with a fresh emulator), so its JIT stays
// warm from run to run; it is replaced only after it failed. The speed check's two references, the
// CLI's code path and its `--owners` path, run in workers of their own (see referenceWorkers).

import type { BootReport } from "../cli/report.js";
import { V86_WORKER_QUERY } from "../host/browser-platform.js";
import { applyTimelineDelta, type TimelineData } from "../observe/timeline.js";
import type { OwnerRecord } from "./inspector.js";
import type { RunSettings, RunState } from "./live-run.js";
import type { MemorySnapshot, OwnerTable } from "./model.js";
import type { EventLine, FramePacket, FromWorker, Geometry, PacketStats, ToWorker } from "./worker-protocol.js";

const MAX_CONSOLE_LINES = 4000;

let shared: Worker | null = null;
/** Who gets the worker's messages now: the active run, or the CLI-path run of a speed check. */
let receiver: ((message: FromWorker) => void) | null = null;
/** The run the guest's worker started last: it answers inspect requests about it, ended or not. */
let latestRun: RemoteRun | null = null;
/** Inspect requests awaiting their answer, by id (unique across runs; see RemoteRun.inspect). */
const inspections = new Map<number, (r: { owner: OwnerRecord | null; history: string[] }) => void>();
let nextInspect = 1;

/** Settles every inspect request still waiting, with nothing known (the worker is gone). */
function dropInspections(): void {
  for (const resolve of inspections.values()) resolve({ owner: null, history: [] });
  inspections.clear();
}

/**
 * A new worker.js (next to the page): the guest's machine with the CLI's allocator and observers.
 * The query makes v86 yield between slices on the worker's own thread (V86_WORKER_QUERY).
 */
function spawnWorker(name: string): Worker {
  return new Worker(new URL(`worker.js?${V86_WORKER_QUERY}`, document.baseURI), { type: "module", name });
}

/** The page's guest worker, started on first use. */
function guestWorker(): Worker {
  if (shared === null) {
    const worker = spawnWorker("buddy86 guest");
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "warmed") {
        // A warm-up that failed leaves a worker nobody should trust, unless a run is in it now.
        if (m.reason === "error" && receiver === null) dropWorker();
        warmEnded?.(m);
      } else if (m.type === "inspect-result") {
        inspections.get(m.id)?.({ owner: m.owner, history: m.history });
        inspections.delete(m.id);
      } else if (receiver !== null) receiver(m);
      else if (m.type === "error") {
        // A bug of ours while no run is going (answering an inspect about an ended run): the worker is
        // not trusted again, its pending answers settle empty, and the console says why.
        console.error(`buddy86: the guest's worker failed: ${m.message}`);
        dropWorker();
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      const message = `the guest's worker failed: ${e.message}`;
      if (receiver !== null) receiver({ type: "error", message });
      else dropWorker();
      // A warm-up still going ends with the worker (its flag must not stay up).
      warmEnded?.({ type: "warmed", reason: "error", calls: 0, ms: 0, message });
    };
    shared = worker;
  }
  return shared;
}

type Warmed = Extract<FromWorker, { type: "warmed" }>;

/** Who hears of the warm-up's end (see warmUp). */
let warmEnded: ((m: Warmed) => void) | null = null;

/**
 * Runs `settings` once in the guest's worker, unseen (worker.ts warm): the page's first real run
 * then starts warm. A run started meanwhile stops it. Resolves with how it ended; rejects when it
 * failed (a bug of ours, which the page shows).
 */
export function warmUp(settings: RunSettings): Promise<Warmed> {
  return new Promise<Warmed>((resolve, reject) => {
    warmEnded = (m) => (m.reason === "error" ? reject(new Error(`warm-up: ${m.message ?? "failed"}`)) : resolve(m));
    guestWorker().postMessage({ type: "warm", settings } satisfies ToWorker);
  }).finally(() => (warmEnded = null));
}

/**
 * Gives each speed-check reference worker not yet warmed the warm-up the page's worker had, as a
 * run of `settings` nobody measures: the check then compares warm workers from its first round.
 */
export async function warmReferences(settings: RunSettings): Promise<void> {
  for (const observed of [false, true]) {
    const kind = observed ? 1 : 0;
    if (referenceWorkers[kind] !== null && warmedReferences[kind] === referenceWorkers[kind]) continue;
    await remoteCliRun(settings, observed);
    warmedReferences[kind] = referenceWorkers[kind];
  }
}

/** Drops a worker that failed (the next run gets a new one). */
function dropWorker(): void {
  shared?.terminate();
  shared = null;
  dropInspections();
}

/**
 * The workers of the speed check's references: [0] the CLI's code path (`buddy86 boot`), [1] its
 * `--owners` path. Each code path gets a worker as the CLI gets a process, and the page's worker runs
 * only the page's runs, as it does for a user. Sharing one worker, each path slowed the other: the
 * `--owners` path's observers left V8's inline caches at the hub's dispatch megamorphic (npm run
 * bench:observe, page churn after an --owners run in the same process: 1,965 -> 2,227 host
 * instructions per call), and the plain path and the page, whose allocator has a listener, kept
 * handing each other code V8 had optimised for the other (docs/web-speed.md).
 */
const referenceWorkers: [Worker | null, Worker | null] = [null, null];
/** The reference workers warmReferences has warmed (a worker replaced after a failure is not). */
const warmedReferences: [Worker | null, Worker | null] = [null, null];

export class RemoteRun {
  state: RunState = "booting";
  calls = 0;
  freeFrames = -1;
  lastMark: { seq: number; label: string } | null = null;
  snapshot: MemorySnapshot | null = null;
  buddyinfo: FramePacket["buddyinfo"] | null = null;
  samples: TimelineData | null = null;
  events: { total: number; lines: EventLine[] } | null = null;
  readonly console: string[] = [];
  /** Lines ever received (console keeps the last MAX_CONSOLE_LINES). */
  consoleVersion = 0;
  ownerIds: OwnerTable | null = null;
  report: BootReport | null = null;
  reportsText = "";
  /** Use-after-free writes poison found, known once the run ended. */
  poisonViolations = 0;
  /** What the worker spent on this run's packets (set when it ended). */
  packetStats: PacketStats | null = null;
  error: string | null = null;
  /** Resolves when the run has ended (report set) or failed (error set). */
  readonly done: Promise<void>;
  private readonly worker: Worker;
  private geometry: Geometry | null = null;
  private frameInFlight = false;
  /** The frame in flight was asked for before the last resume or step: its packet's state is old. */
  private staleState = false;
  /** The buffer of the last replaced state-byte copy, to hand back to the worker (see requestFrame). */
  private spareMeta: ArrayBuffer | null = null;
  private finish!: () => void;

  constructor(readonly settings: RunSettings) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.worker = guestWorker();
    receiver = (m) => this.receive(m);
    latestRun = this;
    // The kernel's bytes are copied (not transferred): the page keeps its copy for the next run.
    this.send({ type: "start", settings });
  }

  /** Asks for the next packet unless one is on its way. */
  requestFrame(ownerIds: boolean): void {
    if (this.frameInFlight || this.state === "ended") return;
    this.frameInFlight = true;
    const recycle = this.spareMeta;
    this.spareMeta = null;
    if (recycle === null) this.send({ type: "frame", ownerIds });
    else this.send({ type: "frame", ownerIds, recycle }, [recycle]);
  }

  pause(): void {
    this.send({ type: "pause" });
  }

  /** Resumes a paused run; the run says "running" at once (see staleState). */
  resume(): void {
    this.send({ type: "resume" });
    this.running();
  }

  /** Runs n more calls, then pauses; the run says "running" at once (see staleState). */
  step(n: number): void {
    this.send({ type: "step", n });
    this.running();
  }

  /**
   * After a resume or a step the run is running from the page's point of view at once: a pause seen
   * then is a new one. The packet answering a frame request sent before the resume or step was made
   * before the worker read it (messages keep their order), so its state is not taken.
   */
  private running(): void {
    if (this.state === "ended") return;
    this.state = "running";
    this.staleState = this.frameInFlight;
  }

  stop(): void {
    this.send({ type: "stop" });
  }

  setSpeed(callsPerFrame: number): void {
    this.send({ type: "speed", callsPerFrame });
  }

  /**
   * The page owner's record and the event history of a frame, from the worker; after the end too,
   * until the worker starts another run (it keeps an ended run's observers until then). Request ids
   * are unique across runs, so an answer about an old run never settles a newer run's question.
   */
  inspect(pfn: number): Promise<{ owner: OwnerRecord | null; history: string[] }> {
    if (this.error !== null || latestRun !== this || shared !== this.worker) return Promise.resolve({ owner: null, history: [] });
    const id = nextInspect++;
    return new Promise((resolve) => {
      inspections.set(id, resolve);
      this.worker.postMessage({ type: "inspect", id, pfn } satisfies ToWorker);
    });
  }

  private send(message: ToWorker, transfer: Transferable[] = []): void {
    if (this.state !== "ended") this.worker.postMessage(message, transfer);
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case "packet":
        this.frameInFlight = false;
        this.apply(m);
        break;
      case "ended":
        this.apply(m.finalPacket);
        this.report = m.report;
        this.reportsText = m.reportsText;
        this.packetStats = m.packetStats;
        this.poisonViolations = m.poisonViolations;
        this.end();
        break;
      case "error":
        this.failed(m.message);
        break;
      case "cli-result":
        break;
    }
  }

  private apply(p: FramePacket): void {
    if (this.staleState) this.staleState = false;
    else this.state = p.state;
    this.calls = p.calls;
    this.freeFrames = p.freeFrames;
    this.lastMark = p.lastMark;
    if (p.geometry !== undefined) this.geometry = p.geometry;
    const g = this.geometry;
    if (p.meta !== undefined && g !== null) {
      // The copy it replaces goes back to the worker with the next request (nothing else keeps it:
      // the map view draws from its own copy).
      if (this.snapshot !== null && this.snapshot.meta.length === p.meta.length) this.spareMeta = this.snapshot.meta.buffer as ArrayBuffer;
      this.snapshot = { seq: p.seq, maxOrder: g.maxOrder, basePfn: g.basePfn, meta: p.meta, zoneLo: g.zoneLo, zoneHi: g.zoneHi, zoneManaged: g.zoneManaged, ramPfns: g.ramPfns, reserved: g.reserved };
    }
    if (p.buddyinfo !== undefined) this.buddyinfo = p.buddyinfo;
    // A new object each time: the page redraws the chart when the object changes.
    if (p.samples !== undefined) this.samples = applyTimelineDelta(this.samples, p.samples);
    if (p.events !== undefined) this.events = p.events;
    if (p.ownerIds !== undefined) this.ownerIds = p.ownerIds;
    if (p.console !== undefined && p.console.length > 0) {
      this.console.push(...p.console);
      this.consoleVersion += p.console.length;
      if (this.console.length > MAX_CONSOLE_LINES) this.console.splice(0, this.console.length - MAX_CONSOLE_LINES);
    }
  }

  private failed(message: string): void {
    this.error = message;
    dropWorker();
    this.end();
  }

  private end(): void {
    this.state = "ended";
    receiver = null;
    this.finish();
  }
}

/**
 * One run down the CLI's code path, plain (the speed check's reference) or observed (`--owners`),
 * each in a worker of its own (see referenceWorkers).
 */
export function remoteCliRun(settings: RunSettings, observed = false): Promise<BootReport> {
  const kind = observed ? 1 : 0;
  const worker = referenceWorkers[kind] ?? (referenceWorkers[kind] = spawnWorker(observed ? "buddy86 --owners reference" : "buddy86 CLI-path reference"));
  return new Promise<BootReport>((resolve, reject) => {
    const failed = (message: string): void => {
      worker.terminate();
      if (referenceWorkers[kind] === worker) referenceWorkers[kind] = null;
      reject(new Error(message));
    };
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type === "cli-result") resolve(e.data.report);
      else if (e.data.type === "error") failed(e.data.message);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      failed(`the ${observed ? "--owners" : "CLI-path"} reference worker failed: ${e.message}`);
    };
    worker.postMessage({ type: "cli-run", settings, observed } satisfies ToWorker);
  });
}

// The page's form: reads the controls into RunSettings (the same inputs as `buddy86 boot`'s flags:
// workload, seed, ops, memory, max order, per-CPU lists, poison) and loads the chosen kernel, a
// bundled image served next to the page or a file the user picked. Nothing here imports the machine
// (and so v86): the page's bundle stays small, the guest's worker checks the settings.

import { MAX_MAX_ORDER } from "../mem/index.js";
import type { RunSettings } from "./live-run.js";

/** The page's elements by id; throws naming the first one missing (a broken index.html). */
export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page: no element #${id}`);
  return e as T;
}

function value(id: string): string {
  return byId<HTMLInputElement | HTMLSelectElement>(id).value.trim();
}

/** A whole number in [min, max] from an input, or an Error naming the field. */
function integer(id: string, what: string, min: number, max: number): number {
  const text = value(id);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  // A number input gives "" for what is not a number ("hello"): say what to type rather than echo "".
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what}: ${text === "" ? "empty or not a number" : `"${text}"`}; type a whole number in ${min}..${max}`);
  return n;
}

/**
 * The multiboot command line, as `buddy86 boot --workload W --seed S --ops N` composes it
 * ("workload=W seed=S ops=N"). Kernels that do not read it ignore it.
 */
export function composeCmdline(workload: string, seed: number, ops: number): string {
  if (!/^[a-z0-9_-]+$/i.test(workload)) throw new Error(`bad workload name "${workload}"`);
  return `workload=${workload} seed=${seed} ops=${ops}`;
}

/** Everything but the kernel, from the controls. Throws Error with a message for the status line. */
export function readSettings(kernel: Uint8Array, kernelName: string): RunSettings {
  // The select's values are byte counts v86 boots as they are (runMachine checks them again).
  const memoryBytes = integer("memory", "memory", 1, 2 ** 31);
  return {
    kernel,
    kernelName,
    cmdline: composeCmdline(value("workload"), integer("seed", "seed", 0, 0xffffffff), integer("ops", "ops", 1, 0xffffffff)),
    memoryBytes,
    maxOrder: integer("max-order", "max order", 0, MAX_MAX_ORDER),
    pcp: byId<HTMLInputElement>("pcp").checked,
    poison: byId<HTMLInputElement>("poison").checked,
    pauseAtMark: value("pause-at-mark"),
    callsPerFrame: Number(value("speed")),
    wasmUrl: "v86.wasm",
  };
}

/** The kernel the controls name: a bundled image (fetched from the page's folder) or the picked file. */
export async function loadKernel(): Promise<{ bytes: Uint8Array; name: string }> {
  const choice = value("kernel");
  if (choice === "file") {
    const file = byId<HTMLInputElement>("kernel-file").files?.[0];
    if (file === undefined) throw new Error("choose a kernel file (a multiboot ELF that speaks the buddy86 ABI) first");
    return { bytes: new Uint8Array(await file.arrayBuffer()), name: file.name };
  }
  const response = await fetch(choice);
  if (!response.ok) throw new Error(`could not load ${choice}: HTTP ${response.status}`);
  return { bytes: new Uint8Array(await response.arrayBuffer()), name: choice.replace(/^images\//, "") };
}

/** Enables exactly the buttons that make sense in a state. */
export function setButtons(state: "idle" | "booting" | "running" | "paused" | "ended" | "replay" | "busy"): void {
  const active = state === "booting" || state === "running" || state === "paused";
  byId<HTMLButtonElement>("run").disabled = state === "busy" || state === "booting" || state === "running";
  byId<HTMLButtonElement>("run").textContent = state === "paused" ? "▶ Resume" : "▶ Run";
  byId<HTMLButtonElement>("pause").disabled = state !== "running";
  byId<HTMLButtonElement>("step").disabled = !(state === "paused" || state === "running");
  byId<HTMLButtonElement>("stop").disabled = !active;
  byId<HTMLButtonElement>("speed-check").disabled = active || state === "busy";
  // Read when a run starts: changing them during one would change nothing (the MARK to pause at too).
  for (const id of ["kernel", "kernel-file", "workload", "seed", "ops", "memory", "max-order", "pcp", "poison", "pause-at-mark", "trace-file"]) {
    byId<HTMLInputElement>(id).disabled = active || state === "busy";
  }
}

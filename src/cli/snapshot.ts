// Snapshot files of `buddy86 boot --save-state FILE --save-at-call N` / `--restore-state FILE`: one
// file holding a machine checkpoint (v86's state, the bridge with the allocator, the logs; see
// src/debug/checkpoint.ts), the observing session's state (page-owner records with their stacks, the
// per-order counters, warn_alloc's reports, the instruction counter), the debug tools' state and the
// run's settings.
//
//   offset 0   8 bytes  magic "BUDDY86S"
//          8   u32      format version (SNAPSHOT_FORMAT)
//          12  u32      header length H
//          16  H bytes  header, JSON: format, memory size, kernel SHA-256, the call, the settings,
//                       payload length (compressed and raw)
//          16+H         payload: gzip of the packed body (snapshot-pack.ts)
//          end-32       SHA-256 of every byte before it
//
// readSnapshot checks, in order, and names the first check that fails: truncated, magic, format
// version, header, length, checksum; then the caller checks memory size and kernel against its run.
// Node APIs (zlib, crypto) stay in this CLI layer.

import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import type { MachineCheckpoint } from "../debug/checkpoint.js";
import type { DebugOptions, DebugState } from "../debug/session.js";
import type { PcpOptions } from "../mem/index.js";
import type { OrderCountersState } from "../observe/order-counters.js";
import type { PageOwnerState } from "../observe/page-owner.js";
import type { StackDepotState } from "../observe/stack-depot.js";
import type { WarnAllocState } from "../observe/warn-alloc.js";
import { packValue, unpackValue } from "./snapshot-pack.js";

export const SNAPSHOT_MAGIC = "BUDDY86S";
/** 2: the observing session's state, page-owner records first (2026-11-27). */
export const SNAPSHOT_FORMAT = 2;
const PREFIX_BYTES = 16;
const CHECKSUM_BYTES = 32;

/** The run a snapshot belongs to: a restored run uses exactly these. */
export interface SnapshotSettings {
  cmdline: string;
  memoryBytes: number;
  maxOrder: number;
  pcp: PcpOptions;
  debug: DebugOptions;
}

export interface SnapshotHeader {
  format: number;
  createdBy: string;
  memoryBytes: number;
  /** SHA-256 (hex) of the kernel file the run booted. */
  kernelSha256: string;
  kernelBytes: number;
  /** Calls completed when the state was taken. */
  atCall: number;
  settings: SnapshotSettings;
  payloadBytes: number;
  payloadRawBytes: number;
}

/**
 * The observing session at the checkpoint: the page owner's records and the stack depot their
 * handles name, the per-order counters, warn_alloc's reports, and the guest's instruction counter
 * (v86 restarts its own on a restore).
 */
export interface ObserveSnapshot {
  depot: StackDepotState;
  owner: PageOwnerState;
  counters: OrderCountersState;
  warn: WarnAllocState;
  icount: number;
}

export interface Snapshot {
  header: SnapshotHeader;
  checkpoint: MachineCheckpoint;
  debug: DebugState;
  observe: ObserveSnapshot;
}

/** A snapshot file that cannot be used; the message names the check that failed. */
export class SnapshotError extends Error {
  constructor(
    readonly check: "truncated" | "magic" | "format" | "header" | "length" | "checksum" | "payload" | "memory size" | "kernel",
    message: string,
  ) {
    super(`${check} check failed: ${message}`);
    this.name = "SnapshotError";
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The bytes of a snapshot file. */
export function encodeSnapshot(kernel: Uint8Array, settings: SnapshotSettings, checkpoint: MachineCheckpoint, debug: DebugState, observe: ObserveSnapshot): Uint8Array {
  const raw = packValue({ checkpoint, debug, observe });
  const payload = gzipSync(raw, { level: 1 });
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT,
    createdBy: "buddy86",
    memoryBytes: checkpoint.memoryBytes,
    kernelSha256: sha256Hex(kernel),
    kernelBytes: kernel.length,
    atCall: checkpoint.calls,
    settings,
    payloadBytes: payload.length,
    payloadRawBytes: raw.length,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const total = PREFIX_BYTES + headerBytes.length + payload.length + CHECKSUM_BYTES;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  dv.setUint32(8, SNAPSHOT_FORMAT, true);
  dv.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.set(payload, PREFIX_BYTES + headerBytes.length);
  out.set(createHash("sha256").update(out.subarray(0, total - CHECKSUM_BYTES)).digest(), total - CHECKSUM_BYTES);
  return out;
}

/** Reads and verifies a snapshot file's bytes. Throws SnapshotError naming the failed check. */
export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  if (bytes.length < PREFIX_BYTES + CHECKSUM_BYTES) throw new SnapshotError("truncated", `the file has ${bytes.length} bytes, fewer than any snapshot`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== SNAPSHOT_MAGIC) throw new SnapshotError("magic", `the file does not start with "${SNAPSHOT_MAGIC}": not a buddy86 snapshot`);
  const format = dv.getUint32(8, true);
  if (format !== SNAPSHOT_FORMAT) throw new SnapshotError("format", `format version ${format}, this buddy86 reads version ${SNAPSHOT_FORMAT}`);
  const headerLength = dv.getUint32(12, true);
  if (PREFIX_BYTES + headerLength + CHECKSUM_BYTES > bytes.length) throw new SnapshotError("truncated", `the header needs ${headerLength} bytes, the file ends first`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength))) as SnapshotHeader;
  } catch (e) {
    throw new SnapshotError("header", `the header is not valid JSON (${(e as Error).message}): the file is corrupted`);
  }
  if (typeof header !== "object" || header === null || !Number.isInteger(header.payloadBytes) || header.payloadBytes < 0)
    throw new SnapshotError("header", "the header lacks the payload length: the file is corrupted");
  const total = PREFIX_BYTES + headerLength + header.payloadBytes + CHECKSUM_BYTES;
  if (bytes.length < total) throw new SnapshotError("truncated", `the file has ${bytes.length} bytes, its header announces ${total}`);
  if (bytes.length > total) throw new SnapshotError("length", `the file has ${bytes.length - total} bytes more than its header announces`);
  const sum = createHash("sha256").update(bytes.subarray(0, total - CHECKSUM_BYTES)).digest();
  if (Buffer.compare(sum, bytes.subarray(total - CHECKSUM_BYTES)) !== 0) throw new SnapshotError("checksum", "the SHA-256 of the contents does not match: the file is corrupted");
  let body: { checkpoint: MachineCheckpoint; debug: DebugState; observe: ObserveSnapshot };
  try {
    const raw = gunzipSync(bytes.subarray(PREFIX_BYTES + headerLength, total - CHECKSUM_BYTES));
    if (raw.length !== header.payloadRawBytes) throw new Error(`${raw.length} bytes unpacked, ${header.payloadRawBytes} announced`);
    body = unpackValue(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)) as typeof body;
  } catch (e) {
    throw new SnapshotError("payload", `the payload cannot be read (${(e as Error).message})`);
  }
  if (body.checkpoint.memoryBytes !== header.memoryBytes || body.checkpoint.calls !== header.atCall)
    throw new SnapshotError("payload", "the payload does not belong to its header");
  if (typeof body.observe !== "object" || body.observe === null) throw new SnapshotError("payload", "the payload has no page-owner records");
  return { header, checkpoint: body.checkpoint, debug: body.debug, observe: body.observe };
}

/**
 * Checks a verified snapshot against the run about to restore it: the memory size and the kernel
 * must be the ones it was taken with. Throws SnapshotError naming the mismatch.
 */
export function checkSnapshotFits(s: Snapshot, kernel: Uint8Array, memoryBytes: number): void {
  if (s.header.memoryBytes !== memoryBytes)
    throw new SnapshotError("memory size", `the snapshot is of a ${s.header.memoryBytes}-byte guest, this run has ${memoryBytes} bytes`);
  const hash = sha256Hex(kernel);
  if (hash !== s.header.kernelSha256)
    throw new SnapshotError("kernel", `the snapshot was taken with kernel sha256 ${s.header.kernelSha256.slice(0, 16)}..., this kernel is ${hash.slice(0, 16)}...`);
}

// What the bridge counts while a guest runs: port calls per command, BATCH records per command,
// statuses per code (calls and records together, as the ABI's run report defines them) and
// protocol errors. Counting is a typed-array increment on the hot path; names appear only in
// snapshot(), which builds the report.

import { COMMANDS, STATUSES, type CommandName, type StatusName } from "../protocol/abi.js";

/** Command codes are below this; anything else is counted in the "other" slot. */
const COMMAND_SLOTS = 64;
/** Index of the slot for unknown command codes. */
export const OTHER_COMMAND_SLOT = COMMAND_SLOTS;
export const STATUS_SLOTS = STATUSES.length;

/** The counters as a report: every known command and status by name (zeros included). */
export interface CountersSnapshot {
  /** Port entries (32-bit reads of the port) by command; a BATCH is one call. */
  calls: Record<CommandName, number>;
  /** Port entries whose EAX was no known command (answered ENOSYS). */
  unknownCalls: number;
  /** BATCH records by their command field. */
  records: Record<CommandName, number>;
  /** BATCH records whose command field was no known command (answered EINVAL). */
  unknownRecords: number;
  /** Statuses returned, by name: one per call and one per BATCH record. */
  statuses: Record<StatusName, number>;
  /** 8/16-bit reads and writes of any width to the port. */
  protocolErrors: number;
  /** Total port entries (calls), known or not. */
  totalCalls: number;
  /** Total BATCH records. */
  totalRecords: number;
}

export class BridgeCounters {
  /** Port entries, indexed by command code (0..63), OTHER_COMMAND_SLOT for the rest. */
  readonly calls = new Float64Array(COMMAND_SLOTS + 1);
  /** BATCH records, indexed like `calls`. */
  readonly records = new Float64Array(COMMAND_SLOTS + 1);
  /** Statuses, indexed by status code. */
  readonly statuses = new Float64Array(STATUS_SLOTS);
  protocolErrors = 0;

  /** The slot counting command `cmd` (a uint32 from a register or a u16 record field). */
  static slotOf(cmd: number): number {
    return cmd < COMMAND_SLOTS ? cmd : OTHER_COMMAND_SLOT;
  }

  /** Port entries so far. */
  totalCalls(): number {
    let total = 0;
    for (let i = 0; i < this.calls.length; i++) total += this.calls[i]!;
    return total;
  }

  snapshot(): CountersSnapshot {
    const known = new Set<number>(COMMANDS.map((c) => c.code));
    const byName = (counts: Float64Array): Record<CommandName, number> => {
      const out = {} as Record<CommandName, number>;
      for (const c of COMMANDS) out[c.name] = counts[c.code]!;
      return out;
    };
    const unknownOf = (counts: Float64Array): number => {
      let n = counts[OTHER_COMMAND_SLOT]!;
      for (let code = 0; code < COMMAND_SLOTS; code++) if (!known.has(code)) n += counts[code]!;
      return n;
    };
    const statuses = {} as Record<StatusName, number>;
    for (const s of STATUSES) statuses[s.name] = this.statuses[s.code]!;
    let totalRecords = 0;
    for (let i = 0; i < this.records.length; i++) totalRecords += this.records[i]!;
    return {
      calls: byName(this.calls),
      unknownCalls: unknownOf(this.calls),
      records: byName(this.records),
      unknownRecords: unknownOf(this.records),
      statuses,
      protocolErrors: this.protocolErrors,
      totalCalls: this.totalCalls(),
      totalRecords,
    };
  }
}

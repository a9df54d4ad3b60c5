// docs/protocol.md must not drift from src/protocol/abi.ts: every command, status, STAT item,
// record field and limit the code defines appears in the document with its value.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BATCH_RECORD, COMMANDS, GFP_FLAGS, LIMITS, STATUSES, STAT_ITEMS } from "../src/protocol/abi.js";

const doc = readFileSync(new URL("../docs/protocol.md", import.meta.url), "utf8");
const hex2 = (n: number) => "0x" + n.toString(16).toUpperCase().padStart(2, "0");

describe("docs/protocol.md matches src/protocol/abi.ts", () => {
  it.each(COMMANDS.map((c) => [c.name, c.code] as const))("command %s", (name, code) => {
    expect(doc).toContain(`| ${hex2(code)} | ${name} |`);
  });

  it.each(STATUSES.map((s) => [s.name, s.code] as const))("status %s", (name, code) => {
    expect(doc).toContain(`| ${code} | ${name} |`);
  });

  it("GFP flags, STAT items, the record layout and the port", () => {
    for (const f of GFP_FLAGS) expect(doc).toContain(f.name);
    for (const item of STAT_ITEMS) expect(doc).toMatch(new RegExp(`item ${item.code}:|; ${item.code}:`));
    expect(doc).toContain(`BATCH records (${BATCH_RECORD.SIZE} bytes each`);
    for (const off of [BATCH_RECORD.CMD, BATCH_RECORD.STATUS, BATCH_RECORD.ARG0, BATCH_RECORD.ARG1, BATCH_RECORD.RESULT]) {
      expect(doc).toMatch(new RegExp(`^\\| ${off} \\| u(16|32) \\|`, "m"));
    }
    expect(doc).toContain("`HC_PORT = 0xE0`");
  });

  it("every limit", () => {
    expect(doc).toContain(`1..${LIMITS.BATCH_MAX_RECORDS} records`);
    expect(doc).toContain(`${LIMITS.MARK_LABEL_MAX} bytes plus NUL`);
    expect(doc).toContain(`| memory map entries | ${LIMITS.MMAP_MAX_ENTRIES} |`);
    expect(doc).toContain(`at least ${LIMITS.MMAP_ENTRY_MIN_SIZE}`);
    expect(doc).toContain(`| cmdline | ${LIMITS.CMDLINE_MAX} bytes including the NUL |`);
    expect(doc).toContain(`| RESERVE ranges | ${LIMITS.RESERVE_MAX_RANGES} |`);
    expect(doc).toContain(`${LIMITS.MULTIBOOT_INFO_SIZE} bytes, inside RAM`);
  });
});

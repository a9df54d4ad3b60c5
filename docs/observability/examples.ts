// Makes two of the examples in this folder: events.jsonl (the first 60 events of a short churn on the
// bundled guest) and buggy-kernel.elf (a tiny kernel that double-frees, frees with the wrong order and an
// interior frame, and leaks a block). Run: npx esbuild docs/observability/examples.ts --bundle
// --platform=node --format=esm --packages=external --outfile=/tmp/examples.mjs && node /tmp/examples.mjs docs/observability

import { readFileSync, writeFileSync } from "node:fs";
import { nodePlatform } from "../../src/host/node-platform.js";
import { runMachine, readElf32 } from "../../src/machine/index.js";
import { ObserveSession, copyEvent } from "../../src/observe/index.js";
import { Asm, EAX, EBP, EBX, ECX, EDI, ESI, LOAD_ADDR, imageEndFor, tinyKernel } from "../../test/machine-fixtures.js";
import { Cmd } from "../../src/protocol/abi.js";

const out = process.argv[2]!;
// 1. events of a short churn on the bundled guest, as JSON lines
const kernel = new Uint8Array(readFileSync("images/buddy86-guest.elf" /* run from the repository root */));
const s = new ObserveSession({ elf: readElf32(kernel) });
const lines: string[] = [];
s.hub.subscribe({ onEvent: (e) => { if (lines.length < 60) lines.push(JSON.stringify(copyEvent(e))); } });
const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline: "workload=churn ops=3", observer: s.hub });
writeFileSync(`${out}/events.jsonl`, lines.join("\n") + "\n");
console.log(r.reason);

// 2. a buggy kernel: double free, wrong order, interior free, a leak (the kernel of test/observe-paging-guest.test.ts, without paging)
function program(imageEnd: number) {
  const a = new Asm();
  a.movReg(EDI, EBX);
  a.hc(Cmd.HELLO, 1);
  a.mov(EAX, Cmd.MEMMAP).movReg(EBX, EDI).mov(ECX, LOAD_ADDR).mov(ESI, imageEnd).in32();
  a.mov(EBP, 0);
  a.hc(Cmd.ALLOC_PAGES, 0, 0).movReg(EDI, EAX);
  a.mov(EAX, Cmd.FREE_PAGES).movReg(EBX, EDI).mov(ECX, 0).in32();
  a.mov(EAX, Cmd.FREE_PAGES).movReg(EBX, EDI).mov(ECX, 0).in32();
  a.hc(Cmd.ALLOC_PAGES, 2, 0).movReg(EDI, EAX);
  a.mov(EAX, Cmd.FREE_PAGES).movReg(EBX, EDI).mov(ECX, 1).in32();
  a.raw(0x81, 0xc7, 0x00, 0x10, 0x00, 0x00); // add edi, 0x1000
  a.mov(EAX, Cmd.FREE_PAGES).movReg(EBX, EDI).mov(ECX, 0).in32();
  a.hc(Cmd.ALLOC_PAGES, 3, 0x2);
  a.exit(0).halt();
  return a.assemble();
}
const code = program(imageEndFor(program(0).length));
const k = tinyKernel(code);
writeFileSync(`${out}/buggy-kernel.elf`, k.elf);

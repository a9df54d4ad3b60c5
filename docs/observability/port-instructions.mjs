// Host instructions per hypercall without v86: drives the bridge's 32-bit port handler directly with
// ALLOC_PAGES order 0 / FREE_PAGES pairs over a 128 MiB fake RAM. Used for the "Cost" table of
// docs/observability.md: run it under callgrind with N = 0 and N = 1000000 and divide the difference by 2N:
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node docs/observability/port-instructions.mjs "$PWD/dist" 1000000
const [, , dist, nArg] = process.argv;
const { HypercallBridge } = await import(`${dist}/index.js`);
const RAM = 128 * 2 ** 20;
const ram = new Uint8Array(RAM);
const dv = new DataView(ram.buffer);
const reg32 = new Int32Array(8);
// multiboot info at 0x7C00: flags bit 6, mmap after the info
const info = 0x7c00, mmap = info + 116;
dv.setUint32(info, 1 << 6, true);
dv.setUint32(info + 44, 48, true);
dv.setUint32(info + 48, mmap, true);
const entry = (p, base, len) => { dv.setUint32(p, 20, true); dv.setUint32(p + 4, base, true); dv.setUint32(p + 12, len, true); dv.setUint32(p + 20, 1, true); };
entry(mmap, 0, 0xa0000); entry(mmap + 24, 0xc0000, RAM - 0xc0000);
const bridge = new HypercallBridge({ ram, reg32 });
const r = bridge.call(0x01, info, 0x100000, 0x110000);
if (r.status !== 0) throw new Error("memmap " + r.status);
const read32 = bridge.portHandlers.read32;
const n = Number(nArg);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  reg32[0] = 0x10; reg32[3] = 0; reg32[1] = 0;
  const addr = read32();
  reg32[0] = 0x11; reg32[3] = addr; reg32[1] = 0;
  read32();
}
const t1 = performance.now();
console.log(JSON.stringify({ nsPerCall: ((t1 - t0) * 1e6) / (2 * n) }));

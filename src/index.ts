// The buddy86 package root: the pure allocator, the hypercall ABI, and the machine that boots a guest
// in v86 with the allocator behind its hypercall port (Node callers pass nodePlatform()), and the
// observers (events, page owner, reports, traces, pictures) as the `observe` namespace.
export * from "./mem/index.js";
export * as abi from "./protocol/abi.js";
export * from "./machine/index.js";
export { nodePlatform, readBytes } from "./host/node-platform.js";
export * as observe from "./observe/index.js";

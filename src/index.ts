// The buddy86 package root: the pure allocator, the hypercall ABI, and the machine that boots a guest
// in v86 with the allocator behind its hypercall port (Node callers pass nodePlatform()).
export * from "./mem/index.js";
export * as abi from "./protocol/abi.js";
export * from "./machine/index.js";
export { nodePlatform, readBytes } from "./host/node-platform.js";

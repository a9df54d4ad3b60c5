// The browser bundle's entry: the machine runner and the browser platform, with no Node API in
// the import graph (esbuild --platform=browser proves it). A page calls
//   runMachine({ kernel, platform: browserPlatform("v86.wasm"), cmdline: "workload=churn" })
export * from "./index.js";
export { browserPlatform } from "../host/browser-platform.js";

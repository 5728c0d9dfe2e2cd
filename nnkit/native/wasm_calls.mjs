// node wasm_calls.mjs PROGRAM.wasm CALLS.json: each call of the list run by the WebAssembly
// program (program.mjs), the results as one JSON list on stdout (nnkit.native.wasm).
import { readFileSync } from "node:fs";
import { instantiate } from "./program.mjs";

const [wasm, calls] = process.argv.slice(2);
const program = await instantiate(readFileSync(wasm));
const results = JSON.parse(readFileSync(calls, "utf8")).map((call) =>
  call.kind === "maps" ? { values: program.maps(call) } : program.train(call));
process.stdout.write(JSON.stringify(results));

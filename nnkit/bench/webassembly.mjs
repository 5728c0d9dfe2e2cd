// node webassembly.mjs PROGRAM.wasm PROBLEM.json: nnkit's native program compiled to
// WebAssembly training the problem resident in the module's memory, one call per epoch (with
// "grid" > 0, every unit's value over a grid of grid x grid points after each, as a page
// redraws its pictures); prints {"epochs_per_s": ...}. PROBLEM holds a training call as
// program.mjs takes it, and "epochs", "grid".
import { readFileSync } from "node:fs";
import { instantiate } from "../native/program.mjs";

const [wasm, problem] = process.argv.slice(2);
const program = await instantiate(readFileSync(wasm));
const call = JSON.parse(readFileSync(problem, "utf8"));
const trained = program.resident(call);
const size = call.grid, units = call.spec.widths.slice(1, call.spec.layers + 1).reduce((a, b) => a + b, 0);
const grid = Array.from({ length: size * size }, (_, i) => [-1 + 2 * (i % size) / (size - 1), 1 - 2 * Math.floor(i / size) / (size - 1)]).flat();
program.held = [];
const points = size ? program.put(grid) : 0, values = size ? program.x.malloc(8 * size * size * units) : 0;
const spec = program.spec(call.spec, {});
const start = performance.now();
for (let epoch = 0; epoch < call.epochs; epoch++) {
  trained.run();
  if (size) program.x.nnkit_maps_f64(spec, 0, trained.params, points, BigInt(size * size), values);
}
const seconds = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ epochs_per_s: call.epochs / seconds }));

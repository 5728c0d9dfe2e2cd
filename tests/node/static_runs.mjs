// node static_runs.mjs PROGRAM.wasm CATALOG.json CASES.json: each case a run of the static
// page's engine (nnkit/playground/static/static_run.js) on the WebAssembly program, as a page's
// worker drives it; prints one JSON list of what each case asked for (tests/test_static_page.py).
import { readFileSync } from "node:fs";
import { instantiate } from "../../nnkit/native/program.mjs";
import { frame } from "../../nnkit/playground/static/static_pictures.js";
import { Run } from "../../nnkit/playground/static/static_run.js";

const [wasm, catalogFile, casesFile] = process.argv.slice(2);
const program = await instantiate(readFileSync(wasm));
const catalog = JSON.parse(readFileSync(catalogFile, "utf8"));

function params(run) {  // every replica's values of each tensor, one after the other
  return run.params.addresses.map((a, t) => Array.from(run.p.view(a, run.params.sizes[t] * run.replicas)));
}

function one(spec) {
  const out = {};
  try {
    const run = new Run(program, catalog, spec.settings);
    if (spec.article) run.setArticleWeights();
    if (spec.params) spec.params.forEach((values, t) => run.tensor(run.params, t, 0).set(values));
    if (spec.data) out.data = Object.fromEntries(["train", "val", "test"].map((p) => [p, { x: run.data[p].x, y: run.data[p].y }]));
    out.initial = params(run);
    out.rates = [];
    for (const count of spec.advance || []) { run.advance(count); out.rates.push(run.lr); }
    if (spec.epochs) for (let e = 0; e < spec.epochs; e++) { run.finishEpoch(); out.rates.push(run.lr); }
    out.params = params(run);
    out.epoch = run.epoch; out.steps = run.steps;
    if (spec.explain) {  // on float32 weights, as the Python session holds them
      run.params.addresses.forEach((_, t) => { const w = run.tensor(run.params, t, 0); w.set(w.map(Math.fround)); });
      out.params = params(run);
      out.explained = run.explain(...spec.explain);
    }
    if (spec.frame) {
      const drawn = frame(run);
      out.frame = { ...drawn, weights: Array.from(drawn.weights), biases: Array.from(drawn.biases), maps: drawn.maps && Array.from(drawn.maps) };
    }
    if (spec.export) out.exported = run.exported();
    if (spec.inputs) out.inputs = run.inputs(spec.inputs, spec.inputs.length / 2);
    run.free();
  } catch (error) {
    out.error = error.message;
  }
  return out;
}

process.stdout.write(JSON.stringify(JSON.parse(readFileSync(casesFile, "utf8")).map(one)));

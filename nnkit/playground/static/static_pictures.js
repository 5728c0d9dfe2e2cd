// What a static page draws of its run (static_run.js): once per build its description, then
// frame after frame — epoch, losses, weights and biases, every unit's picture over the plane
// or, for data that is not a plane, the page's input through the network and the confusion
// matrix; with replicas, the best drawn and the worst's output beside it. The same messages
// as the server's (nnkit.playground.pictures).
import { overrides, shownSettings } from "./static_config.js";

const F64 = 8;
const EVALUATED_MACS = 2e6;  // a frame's losses: at most about this many multiply-adds a replica

// The next slice of a split's points through every replica: all of them at once for a small
// network; for a large one as many as EVALUATED_MACS allow, a slice a frame, each slice's
// cost and right answers kept until it comes round again.
function refresh(run, split) {
  const w = run.widths, out = run.out;
  const macs = w.slice(1).reduce((total, width, l) => total + width * w[l], 0);
  const size = Math.min(split.n, Math.max(16, Math.floor(EVALUATED_MACS / macs)));
  const from = split.next || 0, count = Math.min(size, split.n - from);
  split.kept = split.kept || Array.from({ length: run.replicas }, () => new Map());
  for (let r = 0; r < run.replicas; r++) {
    const cost = run.p.x.nnkit_evaluate_f64(run.spec, r, run.params.table, split.x + from * w[0] * F64,
      split.dense && split.dense + from * out * F64, split.labels && split.labels + from * F64, BigInt(count), split.outputs);
    const outputs = run.p.view(split.outputs, count * out);
    let right = 0;
    for (let i = 0; i < count; i++) right += answer(run, outputs.subarray(i * out, (i + 1) * out)) === split.y[from + i];
    split.kept[r].set(from, [cost * count, right, count]);
  }
  split.next = (from + count) % split.n;
}

function totals(run, split, r) {  // replica r's cost and accuracy (0 for a regression) over the split's points
  let cost = 0, right = 0, count = 0;
  for (const [c, k, n] of split.kept[r].values()) { cost += c; right += k; count += n; }
  return [run.data.task === "regression" ? 0 : right / count, cost / count];
}

function answer(run, outputs) {  // a prediction: the class, 0/1, or the value
  if (run.data.task === "multiclass") return outputs.indexOf(Math.max(...outputs));
  return run.data.task === "binary" ? Number(outputs[0] >= 0) : outputs[0];
}

function lossesNow(run) {  // the training and test costs; each replica's test accuracy and cost ranks them
  run.evaluation.forEach((split) => refresh(run, split));
  const [train, test] = run.evaluation.map((split) => Array.from({ length: run.replicas }, (_, r) => totals(run, split, r)));
  const mean = (values) => values.reduce((a, [, cost]) => a + cost, 0) / values.length;
  run.scores = test;
  const order = ranked(run);
  run.shown = order[order.length - 1];
  return { train: mean(train), test: mean(test) };
}

function ranked(run) { return [...run.scores.keys()].sort((a, b) => run.scores[a][0] - run.scores[b][0] || run.scores[b][1] - run.scores[a][1]); }

function replicaSummary(run) {
  if (run.replicas === 1) return null;
  const order = ranked(run);
  return { count: run.replicas, solved: run.scores.filter(([a]) => a === 1).length, accuracy: run.scores.map(([a]) => a),
    loss: run.scores.map(([, c]) => c), best: order[order.length - 1], worst: order[0] };
}

export function frame(run) {
  const loss = lossesNow(run), layers = run.widths.length - 1, r = run.shown;
  const pack = (tensors) => Float32Array.from(tensors.flatMap((t) => Array.from(t)));
  const weights = [], biases = [], norms = [];
  for (let l = 0; l < layers; l++) {
    weights.push(run.tensor(run.params, 2 * l, r)); biases.push(run.tensor(run.params, 2 * l + 1, r));
    norms.push(Math.hypot(...run.tensor(run.grads, 2 * l, r)));
  }
  const out = {
    type: "frame", epoch: run.epoch, steps: run.steps, loss, lr: run.lr,
    shapes: run.widths.slice(1).map((w, l) => [w, run.widths[l]]), weights: pack(weights), biases: pack(biases),
    gradient_norms: run.steps ? norms : [], replicas: replicaSummary(run),
  };
  if (run.mapPoints) {
    const shown = mapped(run);
    out.maps = unitMaps(run, r, shown.rows); out.mapped = shown.layers; out.grid = run.mapPoints.size;
    if (out.replicas) out.worst_map = unitMaps(run, out.replicas.worst, shown.rows.slice(-run.out));
  } else {
    out.probe = probe(run); out.confusion = confusion(run);
  }
  return out;
}

function mapped(run) {  // the layers whose units a frame pictures, and their rows of the maps
  const widths = run.widths.slice(1), thumbnails = run.catalog.limits.thumbnails;
  const layers = widths.map((w, i) => i + 1).filter((l) => widths[l - 1] <= thumbnails || l === widths.length);
  const starts = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  return { layers, rows: layers.flatMap((l) => Array.from({ length: widths[l - 1] }, (_, u) => starts[l - 1] + u)) };
}

function unitMaps(run, r, rows) {  // each chosen unit's value over the grid, (rows, grid²) float32
  const g = run.mapPoints, units = g.units;
  run.p.x.nnkit_maps_f64(run.spec, r, run.params.table, g.x, BigInt(g.count), g.values);
  const values = run.p.view(g.values, g.count * units), maps = new Float32Array(rows.length * g.count);
  const binary = run.data.task === "binary", output = units - 1;
  rows.forEach((row, k) => {
    for (let i = 0; i < g.count; i++) {
      const v = values[i * units + row];
      maps[k * g.count + i] = binary && row === output ? 1 / (1 + Math.exp(-v)) : v;
    }
  });
  return maps;
}

function probe(run) {  // the page's input through the network drawn, layer by layer, and the answer
  const p = run.p, units = run.widths.slice(1).reduce((a, b) => a + b, 0);
  const x = p.alloc(run.probeInput), values = p.alloc(units);
  p.x.nnkit_maps_f64(run.spec, run.shown, run.params.table, x, 1n, values);
  const all = Array.from(p.view(values, units));
  p.free(x); p.free(values);
  const layers = [];
  let at = 0;
  for (const w of run.widths.slice(1)) { layers.push(all.slice(at, at + w)); at += w; }
  return { input: run.probeInput, layers: layers.slice(0, -1), answer: squashed(run, layers[layers.length - 1]) };
}

function squashed(run, outputs) {  // the classes' probabilities, the label's, or the value
  if (run.data.task === "multiclass") {
    const top = Math.max(...outputs), e = outputs.map((v) => Math.exp(v - top)), total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  }
  return run.data.task === "binary" ? outputs.map((v) => 1 / (1 + Math.exp(-v))) : outputs;
}

function confusion(run) {  // the test points' (row: the label, column: the answer)
  if (run.data.task === "regression") return null;
  const split = run.evaluation[1], k = Math.max(2, run.data.classes || 2), out = run.out;
  run.p.x.nnkit_evaluate_f64(run.spec, run.shown, run.params.table, split.x, split.dense, split.labels, BigInt(split.n), split.outputs);
  const outputs = run.p.view(split.outputs, split.n * out), counts = Array.from({ length: k }, () => Array(k).fill(0));
  for (let i = 0; i < split.n; i++) counts[split.y[i]][answer(run, outputs.subarray(i * out, (i + 1) * out))]++;
  return counts;
}

export function description(run) {  // what the page needs once per build (nnkit.playground.pictures.description)
  const d = run.data, drawn = run.catalog.limits.drawn_points;
  const points = (part) => ({ x: Array.from({ length: Math.min(part.n, drawn) }, (_, i) => [part.x[2 * i], part.x[2 * i + 1]]), y: part.y.slice(0, drawn) });
  return {
    type: "built", overrides: overrides(run.settings), settings: shownSettings(run.config, run.catalog),
    choices: run.catalog.choices, task: d.task, classes: d.classes, widths: run.widths,
    features: run.featureNames, engine: "nnkit's native program, compiled to WebAssembly, in this browser",
    points: d.width === 2 ? { train: points(d.train), test: points(d.test) } : null, extent: d.extent,
    thumbnails: run.catalog.limits.thumbnails,
    proof: { built_in: [...new Set(run.activationNames)].map((a) => `activation ${a}`).concat(`loss ${run.lossName}[reduction=mean]`), checked: [], browser: true },
  };
}

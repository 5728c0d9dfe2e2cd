// The TensorFlow Playground's way of training, as a contender for `python -m nnkit.bench`.
//
// Written after the algorithm of the Playground's src/nn.ts (not its code): a network of node
// objects joined by link objects; for every training point a forward pass, then
// backpropagation that accumulates each link's and bias's derivative, and an update of every
// weight after each minibatch (the accumulated derivative divided by its count). Squared error
// 0.5 (output - target)^2, tanh everywhere, the output too, as the Playground has it.
//
// Usage: node playground.js '{"widths": [2, 4, 2, 1], "points": 250, "batch": 10,
//                             "lr": 0.03, "epochs": 300, "grid": 0}'
// prints {"epochs_per_s": ..., "loss": ...}. With "grid": 100 every epoch also computes every
// node's output at each point of a 100 x 100 grid, as the Playground redraws its pictures.
// In a page (nnkit.bench.browser) it is a classic script that leaves its parts in
// globalThis.playgroundEngine.

"use strict";

function seeded(seed) {  // mulberry32: the same points on every run
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function circle(count, random) {  // the Playground's circle: inside 1, the outer ring -1
  const points = [];
  for (let i = 0; i < count; i++) {
    const inside = i < count / 2;
    const r = inside ? random() * 2.5 : 3.5 + random() * 1.5;
    const angle = random() * 2 * Math.PI;
    points.push({ x: [r * Math.sin(angle) / 5, r * Math.cos(angle) / 5], label: inside ? 1 : -1 });
  }
  return points;
}

class Node {
  constructor(random) {
    this.inputs = []; this.outputs = [];
    this.bias = 0.1; this.total = 0; this.output = 0;
    this.outputDer = 0; this.inputDer = 0; this.accInputDer = 0; this.count = 0;
  }
  activate() {
    let total = this.bias;
    for (const link of this.inputs) total += link.weight * link.source.output;
    this.total = total;
    this.output = Math.tanh(total);
  }
}

class Link {
  constructor(source, dest, random) {
    this.source = source; this.dest = dest;
    this.weight = random() - 0.5; this.errorDer = 0; this.accErrorDer = 0; this.count = 0;
  }
}

function build(widths, random) {
  const layers = widths.map((width) => Array.from({ length: width }, () => new Node(random)));
  for (let l = 1; l < layers.length; l++) {
    for (const dest of layers[l]) {
      for (const source of layers[l - 1]) {
        const link = new Link(source, dest, random);
        source.outputs.push(link); dest.inputs.push(link);
      }
    }
  }
  return layers;
}

function forward(layers, input) {
  layers[0].forEach((node, i) => { node.output = input[i]; });
  for (let l = 1; l < layers.length; l++) for (const node of layers[l]) node.activate();
  return layers[layers.length - 1][0].output;
}

function backward(layers, target) {
  const out = layers[layers.length - 1][0];
  out.outputDer = out.output - target;
  for (let l = layers.length - 1; l >= 1; l--) {
    for (const node of layers[l]) {
      node.inputDer = node.outputDer * (1 - node.output * node.output);
      node.accInputDer += node.inputDer; node.count++;
      for (const link of node.inputs) {
        link.errorDer = node.inputDer * link.source.output;
        link.accErrorDer += link.errorDer; link.count++;
      }
    }
    if (l === 1) continue;
    for (const node of layers[l - 1]) {
      let der = 0;
      for (const link of node.outputs) der += link.weight * link.dest.inputDer;
      node.outputDer = der;
    }
  }
}

function update(layers, lr) {
  for (let l = 1; l < layers.length; l++) {
    for (const node of layers[l]) {
      if (node.count > 0) { node.bias -= lr * node.accInputDer / node.count; }
      node.accInputDer = 0; node.count = 0;
      for (const link of node.inputs) {
        if (link.count > 0) link.weight -= (lr / link.count) * link.accErrorDer;
        link.accErrorDer = 0; link.count = 0;
      }
    }
  }
}

function epoch(layers, points, batch, lr) {
  points.forEach((point, i) => {
    forward(layers, point.x);
    backward(layers, point.label);
    if ((i + 1) % batch === 0) update(layers, lr);
  });
}

function drawMaps(layers, grid, pictures) {  // every node's output at every grid point
  let at = 0;
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      forward(layers, [2 * i / (grid - 1) - 1, 2 * j / (grid - 1) - 1]);
      for (let l = 1; l < layers.length; l++) for (const node of layers[l]) pictures[at++] = node.output;
    }
  }
}

function main() {
  const options = JSON.parse(process.argv[2] || "{}");
  const widths = options.widths || [2, 4, 2, 1];
  const random = seeded(1);
  const points = circle(options.points || 250, random);
  const layers = build(widths, random);
  const grid = options.grid || 0;
  const units = widths.slice(1).reduce((a, b) => a + b, 0);
  const pictures = new Float64Array(grid * grid * units);
  const run = (epochs) => {
    for (let e = 0; e < epochs; e++) {
      epoch(layers, points, options.batch || 10, options.lr || 0.03);
      if (grid) drawMaps(layers, grid, pictures);
    }
  };
  const epochs = options.epochs || 300;
  run(Math.max(1, Math.floor(epochs / 5)));  // the JIT's warm-up
  const start = process.hrtime.bigint();
  run(epochs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let loss = 0;
  for (const point of points) loss += 0.5 * (forward(layers, point.x) - point.label) ** 2;
  console.log(JSON.stringify({ epochs_per_s: epochs / seconds, loss: loss / points.length }));
}

if (typeof process !== "undefined" && process.argv) main();  // node; a page takes its parts:
else globalThis.playgroundEngine = { seeded, circle, build, epoch, drawMaps };  // nnkit.bench.browser

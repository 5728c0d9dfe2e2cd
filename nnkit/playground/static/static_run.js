// One run of the static page, all of it in the WebAssembly program's memory: the data it
// generates (static_data.js), the network it starts and trains (program.cpp), what a changed
// control changes, one step explained and the run exported; what the page draws of it is
// static_pictures.js's (as the server's session and nnkit.playground.pictures).
import { compose, overrides, SettingError } from "./static_config.js";
import { makeData } from "./static_data.js";

const F64 = 8;

function layerValue(value, l) { return Array.isArray(value) ? value[l] ?? value[value.length - 1] : value; }

export class Run {
  constructor(program, catalog, settings) {
    this.p = program; this.catalog = catalog; this.owned = [];
    this.settings = settings;
    this.config = compose(settings, catalog);
    this.data = makeData(program, this.config, catalog);
    this.plan();
    this.allocate();
    this.epoch = 0; this.steps = 0; this.next = 0; this.changes = 0; this.altered = null;
    this.shown = 0; this.scores = []; this.plateau = { best: Infinity, bad: 0 };
    this.probeInput = this.data.width === 2 ? null : this.data.test.x.slice(0, this.data.width);
  }

  // The network and its cost as the program's Spec: widths, activations, the loss's case and how
  // the targets meet it, the optimizer, the regularization, normalizations and residuals.
  plan() {
    const { config, catalog, data } = this, m = config.model;
    const lossName = config.loss.name === "auto" ? catalog.tasks[data.task].default_loss : config.loss.name;
    const loss = catalog.losses[lossName], feed = loss.feeds[data.task];
    if (!feed) throw new SettingError(`loss '${lossName}' does not fit ${data.task} data (choose a loss from: ${catalog.tasks[data.task].losses.join(", ")})`);
    this.featureNames = data.width === 2 ? m.features || ["x1", "x2"] : Array.from({ length: data.width }, (_, i) => `x${i + 1}`);
    this.expanded = data.width === 2 && m.features !== null;
    const hidden = [...m.hidden], inputs = this.expanded ? m.features.length : data.width;
    const out = data.task === "multiclass" ? data.classes : 1;
    this.widths = [inputs, ...hidden, out];
    this.activationNames = hidden.map((_, l) => layerValue(m.activation, l));
    this.norms = hidden.map((_, l) => layerValue(m.norm, l));
    this.dropout = hidden.map((_, l) => Number(layerValue(m.dropout, l)));
    const o = { ...catalog.optimizers[config.optimizer.name], ...config.optimizer };
    const [beta1, beta2] = o.betas || [o.beta1, o.beta2];
    this.lossName = lossName; this.feed = feed; this.labelled = loss.labels;
    this.replicas = config.trainer.replicas;
    const batch = Math.min(config.data.batch_size, data.train.n);
    this.batches = Math.ceil(data.train.n / batch);
    this.values = {
      layers: this.widths.length - 1, replicas: this.replicas, loss: loss.native, mean: 1,
      squash: feed.squash ? 1 : 0, optimizer: o.kind, steps: this.batches, rows: data.train.n,
      penalty: catalog.choices.regularizations.indexOf(config.regularization.kind),
      widths: this.widths, activations: this.activationNames.map((a) => catalog.activations[a].native),
      arguments: this.activationNames.map((a) => catalog.activations[a].argument),
      lr: config.optimizer.lr, beta1, beta2, eps: o.eps, weight_decay: o.weight_decay, momentum: o.momentum ?? 0,
      adam_step: 0, penalty_rate: config.regularization.rate,
      norms: this.norms.map((k) => catalog.choices.norms.indexOf(k)),
      residual: hidden.map((w, l) => Number(Boolean(m.residual) && this.widths[l] === w)),
      norm_eps: 1e-5, norm_momentum: 0.1,
    };
    this.offsets = Array.from({ length: this.batches + 1 }, (_, k) => Math.min(k * batch, data.train.n));
    this.kind = o.kind;
  }

  own(address) { this.owned.push(address); return address; }

  // Every tensor's values per replica, in the program's order: W, b of each layer, γ, β of each
  // normalized hidden layer, then batch normalization's running mean and variance.
  sizes(withRunning) {
    const w = this.widths, out = [];
    for (let l = 0; l + 1 < w.length; l++) out.push(w[l] * w[l + 1], w[l + 1]);
    this.norms.forEach((k, l) => { if (k !== "none") out.push(w[l + 1], w[l + 1]); });
    if (withRunning) this.norms.forEach((k, l) => { if (k === "batch") out.push(w[l + 1], w[l + 1]); });
    return out;
  }

  group(sizes) {
    const addresses = sizes.map((size) => this.own(this.p.alloc(size * this.replicas)));
    return { addresses, sizes, table: this.own(this.p.alloc(addresses, "ptr")) };
  }

  // The program's state for this run: the Spec, the weights (started by the initializer), the
  // gradients and the optimizer's moments, the training rows of every replica and the targets.
  allocate() {
    const p = this.p, data = this.data, R = this.replicas;
    p.held = [];
    this.spec = p.spec(this.values, {});
    this.owned.push(...p.held);
    this.params = this.group(this.sizes(true));
    this.grads = this.group(this.sizes(false));
    const sgd = this.kind === this.catalog.optimizers.sgd.kind;
    this.first = !sgd || this.values.momentum ? this.group(this.sizes(false)) : null;
    this.second = !sgd ? this.group(this.sizes(false)) : null;
    const m = this.config.model, option = m.init_args ? Number(Object.values(m.init_args)[0]) : NaN;
    p.x.nnkit_initialize(this.spec, p.names("nnkit_init_names").indexOf(m.init), option, BigInt(this.config.seed), this.params.table);
    const inputs = this.inputs(data.train.x, data.train.n), rows = new Float64Array(R * inputs.length);
    for (let r = 0; r < R; r++) rows.set(inputs, r * inputs.length);  // every replica's own copy
    this.x = this.own(p.alloc(rows));
    const targets = this.targets(data.train);
    this.dense = targets.dense ? this.own(p.alloc(Array(R).fill(targets.dense).flat())) : 0;
    this.labels = targets.labels ? this.own(p.alloc(Array(R).fill(targets.labels).flat(), "i64")) : 0;
    this.offsetsAt = this.own(p.alloc(this.offsets, "i64"));
    this.losses = this.own(p.alloc(this.batches));
    this.outputs = this.own(p.alloc(R * data.train.n * this.out));
    this.lrs = this.own(p.alloc(this.batches));
    const units = this.widths.slice(1, -1).reduce((a, b) => a + b, 0);
    this.masks = this.dropout.some((rate) => rate > 0) ? this.own(p.alloc(R * data.train.n * units)) : 0;
    this.evaluation = ["train", "test"].map((name) => this.split(data[name]));
    this.mapPoints = data.width === 2 ? this.grid() : null;
  }

  get out() { return this.widths[this.widths.length - 1]; }

  // Raw inputs (n rows) as the first layer reads them: the chosen features of a plane's points.
  inputs(x, n) {
    if (!this.expanded) return Array.from(x);
    const p = this.p, names = p.names("nnkit_feature_names"), chosen = this.featureNames.map((f) => names.indexOf(f));
    const points = p.alloc(x), picked = p.alloc(chosen, "i32"), out = p.alloc(n * chosen.length);
    p.x.nnkit_features(picked, chosen.length, points, BigInt(n), out);
    const values = Array.from(p.view(out, n * chosen.length));
    [points, picked, out].forEach((a) => p.free(a));
    return values;
  }

  // A split's targets as the cost takes them: class labels, one-hot rows, or the values.
  targets(split) {
    if (this.labelled) return { labels: split.y };
    if (this.feed.one_hot) return { dense: split.y.flatMap((k) => Array.from({ length: this.out }, (_, j) => Number(j === k))) };
    return { dense: split.y };
  }

  // The first points of a split (LOSS_POINTS), in the module's memory for its costs.
  split(part) {
    const n = Math.min(part.n, this.catalog.limits.loss_points), width = this.data.width;
    const piece = { x: part.x.slice(0, n * width), y: part.y.slice(0, n), n };
    const t = this.targets(piece);
    return {
      n, y: piece.y, x: this.own(this.p.alloc(this.inputs(piece.x, n))),
      dense: t.dense ? this.own(this.p.alloc(t.dense)) : 0,
      labels: t.labels ? this.own(this.p.alloc(t.labels, "i64")) : 0,
      outputs: this.own(this.p.alloc(n * this.out)),
    };
  }

  // The pictures' points over the data's square (row 0 at the top), as the first layer reads them.
  grid() {
    const limits = this.catalog.limits, units = this.widths.slice(1).reduce((a, b) => a + b, 0);
    const size = units <= limits.many_units ? limits.grid : limits.small_grid, [low, high] = this.data.extent;
    const at = (k) => low + (high - low) * k / (size - 1), points = [];
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) points.push(at(j), at(size - 1 - i));
    const count = size * size;
    return { size, count, x: this.own(this.p.alloc(this.inputs(points, count))), values: this.own(this.p.alloc(count * units)), units };
  }

  free() { this.owned.forEach((a) => this.p.free(a)); this.owned = []; }

  get lr() { return this.rate ?? this.config.optimizer.lr; }

  // ---- training ---------------------------------------------------------------------------
  // A new epoch: each replica's rows in a new order, their dropout masks, the schedule's rates.
  startEpoch() {
    const p = this.p, n = this.data.train.n, inputs = this.widths[0], out = this.out, seed = BigInt(this.config.seed);
    for (let r = 0; r < this.replicas; r++) {
      p.x.nnkit_shuffle_rows(seed, BigInt(this.epoch * this.replicas + r), BigInt(n), this.x + r * n * inputs * F64, inputs,
        this.dense ? this.dense + r * n * out * F64 : 0, out, this.labels ? this.labels + r * n * F64 : 0);
    }
    if (this.masks) {
      const hidden = this.widths.slice(1, -1), w = p.alloc(hidden, "i32"), rates = p.alloc(this.dropout);
      p.x.nnkit_dropout_masks(seed, BigInt(this.epoch), BigInt(this.replicas * n), w, rates, hidden.length, this.masks);
      p.free(w); p.free(rates);
    }
    const rates = p.view(this.lrs, this.batches);
    if (this.config.scheduler.interval === "step") rates.forEach((_, k) => { rates[k] = this.scheduled(this.steps + k); });
    else rates.fill(this.scheduled(this.epoch));
  }

  // The schedule's rate after t intervals (page.cpp's closed forms; plateau's own, as it stands).
  scheduled(t) {
    const s = this.config.scheduler, lr = this.config.optimizer.lr;
    if (s.name === "none") return lr;
    if (s.name === "plateau") return this.plateauRate ?? lr;
    const kinds = this.p.names("nnkit_schedule_names"), epochs = this.config.trainer.max_epochs;
    const total = s.total || (s.interval === "step" ? epochs * this.batches : epochs);
    const options = [s.step_size ?? s.warmup ?? 0, s.gamma ?? s.start_factor ?? 0, s.eta_min ?? 0, ...(s.milestones || [])];
    const at = this.p.alloc(options);
    const rate = this.p.x.nnkit_rate(kinds.indexOf(s.name), lr, t, total, at, options.length);
    this.p.free(at);
    return rate;
  }

  // Up to count more minibatches of the epoch under way (a new one starts where one ended).
  advance(count) {
    const p = this.p;
    if (this.next === 0) this.startEpoch();
    const from = this.next, to = Math.min(this.batches, from + count);
    this.write("steps", to - from);
    this.write("adam_step", this.steps);
    this.write("lrs", this.lrs + from * F64);
    this.write("masks", this.masks);
    p.x.nnkit_train_f64(this.spec, this.params.table, this.grads.table, this.first?.table ?? 0, this.second?.table ?? 0,
      this.x, this.dense, this.labels, this.offsetsAt + from * F64, this.losses, this.outputs);
    const losses = p.view(this.losses, to - from);
    const bad = losses.findIndex((v) => !Number.isFinite(v));
    this.rate = p.view(this.lrs, this.batches)[to - 1];
    if (bad >= 0) {
      throw new Error(`the training loss became ${losses[bad]} at step ${this.steps + bad + 1} (epoch ${this.epoch}, learning rate ${this.rate}): lower optimizer.lr, or start again`);
    }
    this.steps += to - from; this.next = to % this.batches; this.changes++;
    if (to === this.batches) { this.epoch++; this.epochEnded(); }
    return to - from;
  }

  write(field, value) {  // a Spec field set anew where it changed
    this.written = this.written || {};
    if (this.written[field] !== value) { this.p.setField(this.spec, field, value); this.written[field] = value; }
  }

  finishEpoch() { if (this.next) this.advance(this.batches - this.next); else this.advance(this.batches); }

  epochEnded() {  // the epoch's schedule, and plateau's watch of the validation cost
    const s = this.config.scheduler;
    if (s.name !== "plateau") { this.rate = this.scheduled(s.interval === "step" ? this.steps : this.epoch); return; }
    this.valSplit = this.valSplit || this.split(this.data.val);
    const cost = this.costs(this.valSplit).reduce((a, b) => a + b, 0) / this.replicas;
    const watch = this.plateau;
    if (cost < watch.best * (1 - s.threshold)) { watch.best = cost; watch.bad = 0; } else if (++watch.bad > s.patience) {
      this.plateauRate = Math.max((this.plateauRate ?? this.config.optimizer.lr) * s.factor, s.min_lr);
      watch.bad = 0;
    }
    this.rate = this.scheduled(this.epoch);
  }

  setLr(lr) {  // a new base rate from the next step on; a schedule goes on, scaled to it
    const scale = lr / this.config.optimizer.lr;
    this.config.optimizer.lr = this.settings["optimizer.lr"] = lr;
    if (this.plateauRate !== undefined) this.plateauRate *= scale;
    if (this.next) {
      const rates = this.p.view(this.lrs, this.batches);
      for (let k = this.next; k < this.batches; k++) rates[k] *= scale;
    }
    this.rate = (this.rate ?? lr / scale) * scale;
    this.write("lr", lr);
    if (this.steps) this.altered = this.altered || `the learning rate changed at step ${this.steps}`;
    this.changes++;
  }

  setWeight(layer, row, column, value) {
    const where = [layer, row, column];
    if (!where.every(Number.isInteger) || layer < 0 || layer >= this.widths.length - 1 || row < 0 || row >= this.widths[layer + 1] || column < 0 || column >= this.widths[layer]) {
      throw new SettingError(`there is no weight [${layer}][${row}][${column}] in this network`);
    }
    if (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > 1e3) throw new SettingError(`weight value ${value} should be a number in [-1000, 1000]`);
    const size = this.params.sizes[2 * layer];
    this.p.view(this.params.addresses[2 * layer], size * this.replicas)[this.shown * size + row * this.widths[layer] + column] = value;
    this.altered = this.altered || `a weight was typed at step ${this.steps}`;
    this.changes++;
  }

  setProbe(values) {
    if (!Array.isArray(values) || values.length !== this.data.width || !values.every((v) => typeof v === "number")) {
      throw new SettingError(`an input is a list of ${this.data.width} numbers, not ${JSON.stringify(values)}`);
    }
    this.probeInput = values;
    this.changes++;
  }

  // ---- what the page draws ----------------------------------------------------------------
  costs(split) {  // each replica's cost of a split, its outputs kept for the last replica asked
    return Array.from({ length: this.replicas }, (_, r) => this.p.x.nnkit_evaluate_f64(this.spec, r, this.params.table,
      split.x, split.dense, split.labels, BigInt(split.n), split.outputs));
  }

  tensor(group, t, r) {  // replica r's values of a group's tensor t
    const size = group.sizes[t];
    return this.p.view(group.addresses[t], size * this.replicas).subarray(r * size, (r + 1) * size);
  }

  // ---- one step explained -----------------------------------------------------------------
  explain(input, label) {  // one step of one point (nnkit.explain's numbers), by page.cpp
    const p = this.p, width = this.data.width, w = this.widths;
    if (!Array.isArray(input) || input.length !== width || !input.every((v) => typeof v === "number")) throw new SettingError(`explain takes ${width} input values and a label, not ${JSON.stringify(input)}`);
    const row = this.inputs(input, 1), target = this.targets({ y: [label[0]], n: 1 });
    const size = w.slice(1).reduce((total, out, l) => total + (l + 2 < w.length ? 7 : 3) * out + out * w[l], 0) + this.out;
    const x = p.alloc(row), dense = target.dense ? p.alloc(target.dense) : 0, out = p.alloc(size);
    const cost = p.x.nnkit_explain_f64(this.spec, this.shown, this.params.table, x, dense, BigInt(target.labels ? target.labels[0] : 0), this.lr, out);
    const values = Array.from(p.view(out, size));
    [x, dense, out].filter(Boolean).forEach((a) => p.free(a));
    let at = 0;
    const take = (count) => values.slice(at, (at += count));
    const layers = w.slice(1).map((units, l) => this.explainedLayer(l, units, take));
    return { type: "explained", input, label, lr: this.lr, layers, answer: take(this.out), cost, difference: null };
  }

  explainedLayer(l, units, take) {  // layer l's numbers of an explained step, as take gives them
    const hidden = l + 2 < this.widths.length, inputs = this.widths[l];
    const [weighted, activated, error, corrections] = [take(units), take(units), take(units), take(units * inputs)];
    const layer = {
      name: hidden ? `hidden ${l + 1} (${this.activationNames[l]})` : "output",
      units: weighted.map((z, u) => ({ weighted: z, activated: activated[u], error: error[u], bias_correction: -this.lr * error[u],
        weight_corrections: corrections.slice(u * inputs, (u + 1) * inputs) })),
    };
    if (!hidden) return layer;
    const [normalized, passed, mean, variance] = [take(units), take(units), take(units), take(units)];
    const norm = this.norms[l], layered = this.norms.some((k) => k !== "none") || this.dropout.some(Boolean) || this.values.residual.some(Boolean);
    layer.units.forEach((unit, u) => {
      if (norm !== "none") unit.normalized = normalized[u];
      if (layered) unit.passed = passed[u];
    });
    if (norm !== "none") layer.norm = { kind: norm, mean: norm === "layer" ? mean.slice(0, 1) : mean, var: norm === "layer" ? variance.slice(0, 1) : variance };
    return layer;
  }

  point(message) {  // the input and label a message names: a data point, or its own
    if ("input" in message) return [message.input, [].concat(message.label ?? 0)];
    const part = message.part ?? "train", split = this.data[part], index = message.index, width = this.data.width;
    if (!["train", "test"].includes(part)) throw new SettingError(`part=${part} should be train or test`);
    if (!Number.isInteger(index) || index < 0 || index >= split.n) throw new SettingError(`there is no ${part} point ${index} (0 to ${split.n - 1})`);
    return [split.x.slice(index * width, (index + 1) * width), [split.y[index]]];
  }

  // The run for the command line: its python -m nnkit.train line and the network drawn (the
  // best replica's, as a run of its own seed) as a file that nnkit's commands open.
  exported() {
    const settings = { ...this.settings, "optimizer.lr": this.config.optimizer.lr };
    if (this.replicas > 1) { delete settings["trainer.replicas"]; settings.seed = this.config.seed + this.shown; }
    const line = [...overrides(settings), `trainer.max_epochs=${this.epoch}`];
    const params = this.params.addresses.map((_, t) => Array.from(this.tensor(this.params, t, this.shown)));
    const file = { format: "nnkit.page-export/1", overrides: line, epoch: this.epoch, global_step: this.steps, params };
    const data = this.data.width === 2 ? "its points" : this.data.train.n > 10 ? "its noisy copies" : null;
    const differs = `this browser draws ${data ? `${data} and ` : ""}its initial weights with its own random numbers (page.cpp), not torch's, ` +
      "so the line trains these settings from nnkit's own start and does not replay this run bit for bit; the weights file holds the page's trained network";
    return {
      epoch: this.epoch, command: `python -m nnkit.train ${line.join(" ")}`, config: JSON.stringify(settings, null, 2),
      note: this.altered ? `${this.altered}; ${differs}` : differs, file: JSON.stringify(file),
    };
  }

  setArticleWeights() {  // the article's worked example: its weights, in the first replica
    const a = this.catalog.article.weights;
    [a.hidden_weight.flat(), a.hidden_bias, a.output_weight.flat(), a.output_bias].forEach((values, t) => this.tensor(this.params, t, 0).set(values));
    this.changes++;
  }
}

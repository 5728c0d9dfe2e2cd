// The playground's page: controls -> settings (config keys) -> the server's run; frames back.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { settings: {}, built: null, frame: null, playing: false, hover: null, startedOver: false, explained: null };
const FEATURE_FUNCTIONS = {
  x1: (a, b) => a, x2: (a, b) => b, x1_sq: (a, b) => a * a, x2_sq: (a, b) => b * b,
  x1x2: (a, b) => a * b, sin_x1: (a, b) => Math.sin(a), sin_x2: (a, b) => Math.sin(b),
};
let socket = null;

// ---- the URL holds every setting --------------------------------------------------------
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const settings = {};
  for (const [key, value] of params) {
    try { settings[key] = JSON.parse(value); } catch { settings[key] = value; }
  }
  return settings;
}

function writeHash(settings) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(settings)) params.set(key, JSON.stringify(value));
  try {
    history.replaceState(null, "", "#" + params.toString());
  } catch (error) { /* a notebook's page (about:srcdoc) has no address to keep them in */ }
}

function hideControls() {  // ?hide=data,features,lr: a classroom's page
  const hidden = new URLSearchParams(location.search).get("hide");
  if (!hidden) return;
  for (const name of hidden.split(",")) {
    document.querySelectorAll(`[data-control="${name}"]`).forEach((el) => { el.hidden = true; });
  }
}

// ---- talking to the server --------------------------------------------------------------
const TOKEN = new URLSearchParams(location.search).get("token");  // a classroom's server
const withToken = (path) => (TOKEN ? `${path}?token=${encodeURIComponent(TOKEN)}` : path);

function connect() {  // the server's WebSocket, or a notebook widget's comm (nnkit.playground.widget)
  socket = window.NNKIT_TRANSPORT ? new window.NNKIT_TRANSPORT() : new WebSocket(`ws://${location.host}${withToken("/ws")}`);
  const example = new URLSearchParams(location.search).get("example");  // ?example=article
  socket.onopen = () => (example ? send({ type: "configure", settings: {}, example }) : configure(readHash()));
  socket.onmessage = (event) => receive(typeof event.data === "string" ? JSON.parse(event.data) : event.data);
  socket.onclose = () => showError("the connection to the playground's server closed; reload the page");
}

function send(message) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(message)); }

function configure(changes) {
  state.settings = { ...state.settings, ...changes };
  send({ type: "configure", settings: state.settings });
}

function receive(message) {
  if (message.type === "error") {
    showError(message.message);
    if (message.stopped) setPlaying(false);
    if (!state.built && !state.startedOver) {  // a bad address: the defaults, under the line
      state.settings = {};
      state.startedOver = true;
      send({ type: "configure", settings: {} });
    }
    return;
  }
  if (message.type === "built") {
    if (!state.startedOver || state.built) showError(null);
    state.built = message;
    state.curve = [];
    state.settings = pick(message.settings, Object.keys(state.settings));
    writeHash(state.settings);
    setPlaying(false);
    showControls(message);
    setupProbe(message);
    drawNetwork();
    showExplained(message.explained || null);
    return;
  }
  if (message.type === "explained") {
    showExplained(message);
    return;
  }
  if (message.type === "export") {
    showExport(message);
    return;
  }
  if (message.type === "data") {  // own points, written as a CSV on the server: train on them
    state.settings = Object.fromEntries(Object.entries(state.settings).filter(([key]) => !key.startsWith("data.")));
    $("path").value = message.path;
    const batch = Math.max(1, Math.min(10, Math.floor(0.7 * message.rows)));  // fits the training split
    configure({ data: "csv", "data.path": message.path, "data.standardize": !message.drawn, "data.batch_size": batch });
    return;
  }
  if (message.type === "script") {
    $("script-panel").hidden = false;
    $("script-text").textContent = message.text;
    $("script-download").href = URL.createObjectURL(new Blob([message.text], { type: "text/x-python" }));
    return;
  }
  if (message.type === "frame") {
    state.frame = message;
    showFrame();
  }
}

function showExport(exported) {
  $("export-panel").hidden = false;
  $("export-command").textContent = exported.command;
  $("export-config").textContent = exported.config;
  if (exported.file !== undefined) { showStaticExport(exported); return; }
  $("export-resume").textContent = exported.resume.replace(/trainer\.max_epochs=\d+/, "trainer.max_epochs=" + (exported.epoch + 100));
  $("export-note").textContent = exported.reproducible
    ? `epoch ${exported.epoch}, written to ${exported.folder}: the line replays this run bit for bit`
    : `epoch ${exported.epoch}, written to ${exported.folder}: ${exported.altered}, so the line replays its settings, not its history; the checkpoint holds the page's weights`;
  if (exported.removed.length) $("export-note").textContent += ` (the oldest exports made room: ${exported.removed.join(", ")})`;
  $("export-files").innerHTML = exported.files.map((f) => `<a href="${withToken(`/exports/${f}`)}" download>${f.split("/").slice(1).join("/")}</a>`).join(" · ");
  setPlaying(false);
}

function showStaticExport(exported) {  // a static page's: the weights as a file of the browser's own
  const name = `nnkit-page-epoch${exported.epoch}.json`;
  $("export-resume").textContent = `python -m nnkit.playground ckpt=${name}   ·   python -m nnkit.predict ckpt=${name} ...`;
  $("export-note").textContent = `epoch ${exported.epoch}: ${exported.note}`;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([exported.file], { type: "application/json" }));
  link.download = name; link.textContent = name;
  $("export-files").replaceChildren(link);
  setPlaying(false);
}

function pick(all, keys) {
  const chosen = {};
  for (const key of keys) if (key in all) chosen[key] = all[key];
  return chosen;
}

function showError(text) {
  const box = $("error");
  box.hidden = !text;
  box.textContent = text || "";
}

function setPlaying(playing) {
  state.playing = playing;
  $("play").textContent = playing ? "❚❚ pause" : "▶ play";
}

// ---- controls -> settings ---------------------------------------------------------------
function fillSelect(select, names, value) {
  select.innerHTML = names.map((n) => `<option>${n}</option>`).join("");
  select.value = String(value);
}

function showControls(built) {
  const s = built.settings, c = built.choices;
  const hidden = s["model.hidden"] || [];
  fillSelect($("activation"), c.activations, Array.isArray(s["model.activation"]) ? s["model.activation"][0] : s["model.activation"]);
  fillSelect($("regularization"), c.regularizations, s["regularization.kind"]);
  fillSelect($("optimizer"), c.optimizers, s.optimizer);
  fillSelect($("init"), c.inits, s["model.init"]);
  fillSelect($("norm"), c.norms, layerValues("model.norm", "none")[0] ?? "none");
  const rate = layerValues("model.dropout", 0)[0] ?? 0;
  if (![...$("dropout").options].some((o) => Number(o.value) === Number(rate))) $("dropout").insertAdjacentHTML("beforeend", `<option>${rate}</option>`);
  $("dropout").value = String(rate);
  $("residual").checked = Boolean(s["model.residual"]);
  fillSelect($("scheduler"), c.schedulers, s.scheduler ?? "none");
  fillSelect($("loss"), c.losses, s.loss);
  $("lr").value = String(s["optimizer.lr"]);
  if ($("lr").value !== String(s["optimizer.lr"])) {
    $("lr").insertAdjacentHTML("beforeend", `<option>${s["optimizer.lr"]}</option>`);
    $("lr").value = String(s["optimizer.lr"]);
  }
  $("rate").value = String(s["regularization.rate"]);
  $("replicas").value = String(s["trainer.replicas"] ?? 1);
  if (![...$("data").options].some((o) => o.value === s.data)) {
    $("data").insertAdjacentHTML("beforeend", `<option>${s.data}</option>`);  // the command line's
  }
  $("data").value = s.data;
  $("noise").value = s["data.noise"] ?? 0;
  $("noise-value").textContent = s["data.noise"] ?? "–";
  $("path-control").hidden = s.data !== "csv";
  $("path").value = s["data.path"] ?? "";
  $("ratio-control").hidden = !("data.train_fraction" in s);
  $("ratio").value = s["data.train_fraction"] ?? 0.7;
  $("ratio-value").textContent = `${Math.round(100 * (s["data.train_fraction"] ?? 0.7))}%`;
  $("classes-control").hidden = !("data.classes" in s);
  $("classes").value = s["data.classes"] ?? 2;
  $("classes-value").textContent = s["data.classes"] ?? "";
  $("batch").value = s["data.batch_size"];
  $("batch-value").textContent = s["data.batch_size"];
  $("layer-count").textContent = hidden.length;
  const chosen = built.features;
  document.querySelectorAll('[data-control="features"]').forEach((el) => { el.style.display = built.points ? "" : "none"; });
  $("features").innerHTML = c.features.map((f) =>
    `<label><input type="checkbox" value="${f}" ${chosen.includes(f) ? "checked" : ""}> ${f}</label>`).join("");
  $("features").querySelectorAll("input").forEach((box) => box.addEventListener("change", () => {
    const on = [...$("features").querySelectorAll("input:checked")].map((b) => b.value);
    configure({ "model.features": on });
  }));
  $("engine").textContent = `trained by ${built.engine}`;
  $("proof-rows").innerHTML = [
    ...built.proof.built_in.map((op) => `<li>${op}: built in, proved by nnkit.gradcheck</li>`),
    ...built.proof.checked.map((row) => `<li>${row.name || row}: proved before the first step</li>`),
    ...(built.proof.browser ? ["<li>this browser's engine: the same program.cpp compiled to WebAssembly, proved equal to the native program to 1e-12 in float64 for every activation, loss, optimizer, regularization and replica setting (tests/test_wasm.py): the proof covers it too</li>"] : []),
  ].join("");
}

function layerValues(key, otherwise) {  // one value per hidden layer, from one value or a list
  const chosen = state.built.settings[key] ?? otherwise, layers = hiddenWidths().length;
  return Array.from({ length: layers }, (_, l) => (Array.isArray(chosen) ? chosen[l] ?? chosen[chosen.length - 1] : chosen));
}

function layerActivations() { return layerValues("model.activation"); }

function perLayer(key, l, value, otherwise) {  // the setting with hidden layer l's value changed
  const values = layerValues(key, otherwise);
  values[l] = value;
  return { [key]: values.every((v) => v === values[0]) ? values[0] : values };
}

function hiddenWidths() { return [...(state.settings["model.hidden"] || state.built.settings["model.hidden"] || [])]; }

function bindControls() {
  $("play").onclick = () => { send({ type: state.playing ? "pause" : "play" }); setPlaying(!state.playing); };
  $("step").onclick = () => send({ type: "step" });
  $("export").onclick = () => send({ type: "export" });
  $("as-code").onclick = () => send({ type: "script" });
  $("script-close").onclick = () => { $("script-panel").hidden = true; };
  $("heatmap").onclick = (event) => { if (!$("draw").checked) explainAt(event); };
  bindDrawing();
  document.querySelectorAll("#digit polygon").forEach((seg) => {
    seg.onclick = () => { seg.classList.toggle("on"); sendProbe(); };
  });
  $("explain-close").onclick = () => showExplained(null);
  $("export-close").onclick = () => { $("export-panel").hidden = true; };
  $("reset").onclick = () => configure({});
  $("lr").onchange = () => {
    state.settings["optimizer.lr"] = Number($("lr").value);
    writeHash(state.settings);
    send({ type: "lr", value: Number($("lr").value) });
  };
  $("activation").onchange = () => configure({ "model.activation": $("activation").value });
  $("regularization").onchange = () => configure({ "regularization.kind": $("regularization").value });
  $("rate").onchange = () => configure({ "regularization.rate": Number($("rate").value) });
  $("optimizer").onchange = () => configure({ optimizer: $("optimizer").value });
  $("init").onchange = () => configure({ "model.init": $("init").value });
  $("norm").onchange = () => configure({ "model.norm": $("norm").value });
  $("dropout").onchange = () => configure({ "model.dropout": Number($("dropout").value) });
  $("residual").onchange = () => configure({ "model.residual": $("residual").checked });
  $("scheduler").onchange = () => configure({ scheduler: $("scheduler").value });
  $("loss").onchange = () => configure({ loss: $("loss").value });
  $("replicas").onchange = () => configure({ "trainer.replicas": Number($("replicas").value) });
  $("data").onchange = () => {  // another dataset: none of the last one's options
    state.settings = Object.fromEntries(Object.entries(state.settings).filter(([key]) => !key.startsWith("data.")));
    $("path-control").hidden = $("data").value !== "csv";
    const served = !state.built.proof.browser;  // a static page: its engine says what needs Python
    if (served && $("data").value === "csv" && !$("path").value) { showError("type the CSV file's name (in the folder the playground was started in)"); return; }
    configure({ data: $("data").value, ...($("data").value === "csv" ? { "data.path": $("path").value } : {}) });
  };
  $("noise").onchange = () => configure({ "data.noise": Number($("noise").value) });
  $("batch").onchange = () => configure({ "data.batch_size": Number($("batch").value) });
  $("path").onchange = () => configure({ data: "csv", "data.path": $("path").value });
  $("ratio").onchange = () => configure({ "data.train_fraction": Number($("ratio").value) });
  $("classes").onchange = () => configure({ "data.classes": Number($("classes").value) });
  $("regenerate").onclick = () => configure({ "data.seed": (state.built.settings["data.seed"] || 0) + 1 });
  $("show-test").onchange = showFrame;
  $("discretize").onchange = showFrame;
  $("add-layer").onclick = () => { const w = hiddenWidths(); if (w.length < 8) configure({ "model.hidden": [...w, 2] }); };
  $("remove-layer").onclick = () => { const w = hiddenWidths(); configure({ "model.hidden": w.slice(0, -1) }); };
}

// ---- the network ------------------------------------------------------------------------
const COLUMN = 110, ROW = 44, TOP = 62;  // TOP: room for each layer's buttons and selects
const SMALL = 10, SMALL_ROW = 14;  // a wide hidden layer's units: drawn without pictures, close

function pictured(c, columns) { return c === 0 || c === columns.length - 1 || columns[c] <= (state.built.thumbnails ?? 16); }

function layout() {  // each unit's corner and size, column by column
  const built = state.built;
  const columns = [built.features.length, ...built.widths.slice(1)];
  return columns.map((count, c) => {
    const size = pictured(c, columns) ? 32 : SMALL, step = size === 32 ? ROW : SMALL_ROW;
    return Array.from({ length: count }, (_, r) => ({ x: 10 + c * COLUMN, y: TOP + r * step, size }));
  });
}

function drawNetwork() {
  const box = $("network");
  box.innerHTML = "";
  const nodes = layout();
  const width = 10 + nodes.length * COLUMN, height = Math.max(...nodes.map((c) => c[c.length - 1].y + c[0].size + 12));
  box.style.height = `${height + 20}px`;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  box.appendChild(svg);
  const links = nodes.slice(1).reduce((total, column, c) => total + column.length * nodes[c].length, 0);
  state.linkCanvas = null;
  if (links > LINK_LIMIT) {  // a large network's links on one canvas (SVG lines, one each, cost a frame), its strongest
    state.linkCanvas = document.createElement("canvas");
    state.linkCanvas.width = width * LINK_SCALE; state.linkCanvas.height = height * LINK_SCALE;
    state.linkCanvas.style.cssText = `position: absolute; left: 0; top: 0; width: ${width}px; height: ${height}px;`;
    box.appendChild(state.linkCanvas);
  }
  state.biasCells = {};
  nodes.forEach((column, c) => column.forEach((node, r) => {
    const canvas = document.createElement(node.size === 32 ? "canvas" : "div");  // a wide layer: no pictures
    canvas.width = canvas.height = 20;
    if (node.size !== 32) canvas.style.width = canvas.style.height = `${node.size}px`;
    canvas.className = "unit" + (c === 0 ? " input" : "");
    canvas.style.left = `${node.x}px`; canvas.style.top = `${node.y}px`;
    canvas.dataset.layer = c; canvas.dataset.unit = r;
    canvas.onmouseenter = () => { state.hover = [c, r]; showFrame(); };
    canvas.onmouseleave = () => { state.hover = null; showFrame(); };
    box.appendChild(canvas);
    if (c === 0) label(box, state.built.features[r], node.x - 2, node.y + 33);
    if (c > 0) {  // its bias, a small square at its corner, as the TensorFlow Playground draws it
      const bias = document.createElement("div");
      bias.className = "bias"; bias.dataset.layer = c; bias.dataset.unit = r;
      bias.style.left = `${node.x - 4}px`; bias.style.top = `${node.y + node.size - 7}px`;
      box.appendChild(bias);
      state.biasCells[`${c},${r}`] = bias;
      bias.onmouseenter = () => biasTitle(bias);
    }
    if (!state.built.points) canvas.title = c === 0 ? state.built.features[r] : `layer ${c}, unit ${r + 1}`;
  }));
  const hidden = hiddenWidths();
  hidden.forEach((units, l) => {  // + and - neurons above each hidden layer
    const div = document.createElement("div");
    div.className = "width-buttons"; div.dataset.control = "layers";
    div.style.left = `${10 + (l + 1) * COLUMN - 8}px`; div.style.top = "0px";
    div.innerHTML = `<button data-layer="${l}" data-change="1" title="one more neuron">+</button> ${units} <button data-layer="${l}" data-change="-1" title="one neuron fewer">−</button>` +
      `<br><select class="layer-activation" data-layer="${l}" title="this layer's activation">` +
      state.built.choices.activations.map((a) => `<option${a === layerActivations()[l] ? " selected" : ""}>${a}</option>`).join("") + "</select>" +
      `<br><select class="layer-norm" data-layer="${l}" data-control="norm" title="this layer's normalization">` +
      state.built.choices.norms.map((n) => `<option${n === layerValues("model.norm", "none")[l] ? " selected" : ""}>${n}</option>`).join("") + "</select>";
    div.querySelector(".layer-activation").onchange = (event) => configure(perLayer("model.activation", l, event.target.value));
    div.querySelector(".layer-norm").onchange = (event) => configure(perLayer("model.norm", l, event.target.value, "none"));
    div.querySelectorAll("button").forEach((b) => b.onclick = () => {
      const w = hiddenWidths();
      w[l] = Math.max(1, Math.min(64, w[l] + Number(b.dataset.change)));
      configure({ "model.hidden": w });
    });
    box.appendChild(div);
  });
  state.svg = svg;
  showFrame();
}

function label(box, text, x, y) {
  const el = document.createElement("div");
  el.className = "label"; el.textContent = text;
  el.style.left = `${x}px`; el.style.top = `${y}px`;
  box.appendChild(el);
}

const LINK_LIMIT = 600;  // links drawn as SVG lines (each one's weight typed by a click), at most

function drawLinks(weights) {
  const svg = state.svg, nodes = layout();
  if (!svg) return;
  svg.innerHTML = "";
  weights.forEach((matrix, l) => matrix.forEach((row, j) => row.forEach((w, k) => {
    const a = nodes[l][k], b = nodes[l + 1][j];
    if (!a || !b) return;
    const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    line.setAttribute("x1", a.x + a.size + 1); line.setAttribute("y1", a.y + a.size / 2);
    line.setAttribute("x2", b.x - 1); line.setAttribute("y2", b.y + b.size / 2);
    line.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
    line.setAttribute("stroke-width", Math.min(8, 0.4 + 2 * Math.abs(w)).toFixed(2));
    line.setAttribute("class", "link");
    line.dataset.layer = l; line.dataset.row = j; line.dataset.column = k;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `weight ${w.toFixed(3)} (layer ${l + 1}, from ${k + 1} to ${j + 1}); click to type a new one`;
    line.appendChild(title);
    line.onclick = () => {
      const typed = prompt(`new weight (layer ${l + 1}, ${k + 1} → ${j + 1})`, w.toFixed(3));
      if (typed !== null) send({ type: "weight", layer: l, row: j, column: k, value: Number(typed) });
    };
    svg.appendChild(line);
  })));
}

const STRONGEST = 256, LINK_SCALE = 0.5;  // a wide pair of layers: its strongest links, at half resolution

function paintLinks(canvas, flat, shapes, nodes) {  // one path per colour and width: few strokes
  const ctx = canvas.getContext("2d"), paths = new Map();
  ctx.setTransform(LINK_SCALE, 0, 0, LINK_SCALE, 0, 0);
  ctx.clearRect(0, 0, canvas.width / LINK_SCALE, canvas.height / LINK_SCALE);
  let at = 0;
  shapes.forEach(([rows, columns], l) => {
    const weights = flat.subarray(at, (at += rows * columns));
    const strengths = Float32Array.from(weights, Math.abs).sort();
    const least = strengths.length > STRONGEST ? strengths[strengths.length - STRONGEST] : 0;
    weights.forEach((w, i) => {
      const a = nodes[l][i % columns], b = nodes[l + 1][Math.floor(i / columns)];
      if (Math.abs(w) < least || !a || !b) return;
      const key = `${w >= 0 ? "#0877bd" : "#f59322"} ${Math.min(8, 0.4 + 2 * Math.abs(w)).toFixed(1)}`;
      if (!paths.has(key)) paths.set(key, new Path2D());
      paths.get(key).moveTo(a.x + a.size + 1, a.y + a.size / 2);
      paths.get(key).lineTo(b.x - 1, b.y + b.size / 2);
    });
  });
  for (const [key, path] of paths) {
    const [colour, width] = key.split(" ");
    ctx.strokeStyle = colour; ctx.lineWidth = Number(width); ctx.stroke(path);
  }
}

// ---- data that is not a plane: an input set on the page, the outputs, the confusion matrix
function setupProbe(built) {
  const plane = Boolean(built.points);
  $("probe-panel").hidden = plane;
  ["heatmap", "heatmap-note"].forEach((id) => { $(id).hidden = !plane; });
  const digit = built.settings.data === "seven_segment";
  $("digit").toggleAttribute("hidden", !digit);  // an SVG element: no .hidden property
  $("probe-inputs").innerHTML = digit || plane ? "" : built.features.map((name, i) =>
    `<label>${name} <input type="number" step="0.1" data-feature="${i}"></label>`).join(" ");
  $("probe-inputs").querySelectorAll("input").forEach((box) => { box.onchange = sendProbe; });
}

function probeValues() {
  if (!$("digit").hasAttribute("hidden")) return [...document.querySelectorAll("#digit polygon")].map((seg) => (seg.classList.contains("on") ? 1 : 0));
  return [...$("probe-inputs").querySelectorAll("input")].map((box) => Number(box.value));
}

function sendProbe() { send({ type: "probe", input: probeValues() }); }

function showProbe(frame) {
  const probe = frame.probe;
  if (!probe) return;
  if (!$("digit").hasAttribute("hidden")) {
    document.querySelectorAll("#digit polygon").forEach((seg, i) => seg.classList.toggle("on", probe.input[i] >= 0.5));
  } else {
    $("probe-inputs").querySelectorAll("input").forEach((box, i) => {
      if (document.activeElement !== box) box.value = number(probe.input[i]);
    });
  }
  const best = probe.answer.indexOf(Math.max(...probe.answer));
  const multi = state.built.task === "multiclass";
  $("probe-outputs").innerHTML = probe.answer.map((p, k) =>
    `<div class="bar${multi && k === best ? " best" : ""}"><span>${multi ? k : "answer"}</span><i style="width:${Math.max(0, Math.min(1, p)) * 200}px"></i> ${number(p)}</div>`).join("");
  const nodes = layout(), box = $("network");
  document.querySelectorAll("#network .value").forEach((el) => el.remove());
  [probe.input, ...probe.layers, probe.answer].forEach((values, l) => values.forEach((v, i) => {
    const node = nodes[l] && nodes[l][i];
    if (!node) return;
    const el = document.createElement("div");
    el.className = "value"; el.textContent = number(v);
    const unit = box.querySelector(`canvas.unit[data-layer="${l}"][data-unit="${i}"]`), ctx = unit && unit.getContext("2d");
    if (ctx) { ctx.fillStyle = `rgb(${colour(v).join(",")})`; ctx.fillRect(0, 0, unit.width, unit.height); }
    el.style.left = `${node.x + 34}px`; el.style.top = `${node.y + 2}px`;
    box.appendChild(el);
  }));
  const matrix = frame.confusion;
  $("confusion-title").hidden = !matrix;
  const header = !matrix ? "" : "<tr><th></th>" + matrix.map((_, c) => `<th>${c}</th>`).join("") + "</tr>";
  $("confusion").innerHTML = !matrix ? "" : header + matrix.map((row, r) => `<tr><th>${r}</th>` + row.map((count, c) =>
    `<td class="${r === c ? "right" : count ? "wrong" : ""}">${count}</td>`).join("") + "</tr>").join("");
}

// ---- many seeds at once ------------------------------------------------------------------
function showReplicas(frame) {
  const summary = frame.replicas;
  $("replicas-panel").hidden = !summary;
  if (!summary) return;
  const percent = (a) => `${(100 * a).toFixed(1)}%`;
  $("solved").textContent = `solved ${summary.solved}/${summary.count}`;
  const seed = (r) => (state.built.settings.seed || 0) + r;  // replica r: a run with seed + r
  $("replica-note").textContent = `(all test points right) · best: seed ${seed(summary.best)} ` +
    `(${percent(summary.accuracy[summary.best])}) · worst: seed ${seed(summary.worst)} (${percent(summary.accuracy[summary.worst])})`;
  if (!frame.worst_map) return;
  const worst = floats(frame.worst_map), task = state.built.task, size = frame.grid * frame.grid;
  if (task === "multiclass") {
    const outputs = Array.from({ length: worst.length / size }, (_, k) => worst.subarray(k * size, (k + 1) * size));
    drawClasses(outputs, frame.grid, $("worst"));
  } else {
    paint($("worst"), task === "binary" ? worst.map((p) => 2 * p - 1) : worst, frame.grid, task === "binary" ? 1 : scaleOf(worst), 0.8);
  }
}

// ---- explain this step ------------------------------------------------------------------
const number = (v) => (Math.abs(v) < 1e-12 ? "0" : Number(v.toPrecision(4)).toString());

function showExplained(step) {
  state.explained = step;
  $("explain-panel").hidden = !step;
  document.querySelectorAll("#network .value").forEach((el) => el.remove());
  if (!step) return;
  const answer = step.answer.map(number).join(", ");
  $("explain-summary").textContent = `input (${step.input.map(number).join(", ")}), label ${step.label.map(number).join(", ")}: ` +
    `answer ${answer}, cost ${number(step.cost)}, learning rate ${step.lr}; ` +
    (step.difference === null ? "by the WebAssembly program's hand-derived step, the one nnkit.gradcheck proves against torch autograd (proved equal to it to 1e-12)"
      : `largest difference from torch autograd ${step.difference.toExponential(1)}`);
  const units = step.layers.flatMap((layer) => layer.units);
  const has = (key) => units.some((u) => key in u);  // the columns this network has
  const columns = [["weighted", "weighted sum"], ...(has("normalized") ? [["normalized", "normalized"]] : []),
    ["activated", "activation"], ...(has("mask") ? [["mask", "dropout mask"]] : []),
    ...(has("passed") ? [["passed", "passed on"]] : []), ["error", "error"], ["bias_correction", "bias correction"]];
  const cell = (value) => `<td>${value === undefined ? "" : number(value)}</td>`;
  const rows = ["<tr><th>layer</th><th>unit</th>" + columns.map(([, title]) => `<th>${title}</th>`).join("") + "<th>weight corrections</th></tr>"];
  step.layers.forEach((layer) => {
    const by = { layer: "layer normalization, by this point's own", batch: "batch normalization, by the running" };
    if (layer.norm) rows.push(`<tr class="norm"><td colspan="${columns.length + 3}">${layer.name}: ${by[layer.norm.kind]} ` +
      `mean ${layer.norm.mean.map(number).join(" ")} and variance ${layer.norm.var.map(number).join(" ")}</td></tr>`);
    layer.units.forEach((u, i) => rows.push(`<tr><td>${layer.name}</td><td>${i + 1}</td>` +
      columns.map(([key]) => cell(u[key])).join("") + `<td>${u.weight_corrections.map(number).join(" ")}</td></tr>`));
  });
  $("explain-table").innerHTML = rows.join("");
  const nodes = layout(), box = $("network");  // on the network, as nnkit.draw draws it
  step.layers.forEach((layer, l) => layer.units.forEach((u, i) => {
    const node = nodes[l + 1] && nodes[l + 1][i];
    if (!node) return;
    const el = document.createElement("div");
    el.className = "value";
    const last = l === step.layers.length - 1;  // the output: its answer, after the squash
    el.textContent = `${number(u.weighted)} → ${number(last ? step.answer[i] : u.activated)}`;
    el.title = `error ${number(u.error)}, bias correction ${number(u.bias_correction)}`;
    el.style.left = `${node.x - 6}px`; el.style.top = `${node.y + 33}px`;
    box.appendChild(el);
  }));
}

// ---- the learner's own points ----------------------------------------------------------
const MIN_POINTS = 10, ERASE = 0.04;  // drawn points needed to train; erasing radius (of the side)

function planeAt(event) {  // a mouse position on the output as (x1, x2) of the plane
  const rect = $("heatmap").getBoundingClientRect(), [low, high] = state.built.extent;
  const px = (event.clientX - rect.left) / rect.width, py = (event.clientY - rect.top) / rect.height;
  return [low + px * (high - low), high - py * (high - low)];
}

function bindDrawing() {
  state.drawn = [];
  let pressed = null, dragged = false;
  const canvas = $("heatmap");
  canvas.addEventListener("mousedown", (event) => { pressed = [event.clientX, event.clientY]; dragged = false; });
  canvas.addEventListener("mousemove", (event) => {
    if (!pressed || !$("draw").checked) return;
    if (Math.hypot(event.clientX - pressed[0], event.clientY - pressed[1]) > 4) dragged = true;
    if (dragged) erase(planeAt(event));
  });
  canvas.addEventListener("mouseup", (event) => {
    if (pressed && $("draw").checked && !dragged) addPoint(planeAt(event));
    if (pressed && $("draw").checked) sendDrawn();
    pressed = null;
  });
  $("draw-clear").onclick = () => { state.drawn = []; showDrawn(); };
  $("draw").onchange = showDrawn;
  $("upload").onchange = uploadFile;
}

function addPoint([x1, x2]) {
  const label = Number($("draw-label").value);
  if (!Number.isFinite(label)) return;
  state.drawn.push([x1, x2, label]);
  showDrawn();
}

function erase([x1, x2]) {
  const [low, high] = state.built.extent, radius = ERASE * (high - low);
  state.drawn = state.drawn.filter(([a, b]) => Math.hypot(a - x1, b - x2) > radius);
  showDrawn();
}

function showDrawn() {
  const count = state.drawn.length;
  $("draw-note").textContent = $("draw").checked
    ? `${count} drawn${count < MIN_POINTS ? `: ${MIN_POINTS - count} more to train on them` : ""}` : "";
  if (state.frame) showFrame();
}

let drawnTimer = null;
function sendDrawn() {  // the drawn points become the data, once there are enough of them
  clearTimeout(drawnTimer);
  if (state.drawn.length < MIN_POINTS) return;
  drawnTimer = setTimeout(() => send({ type: "points", rows: state.drawn }), 300);
}

function uploadFile() {
  const file = $("upload").files[0];
  if (!file) return;
  if (file.size > 1024 * 1024) { showError(`${file.name} is over 1 MiB: the playground takes smaller files`); return; }
  file.text().then((text) => send({ type: "upload", name: file.name, text }));
}

function drawDrawn(canvas) {  // the drawn points, as crosses over the output
  if (!$("draw").checked || !state.drawn.length) return;
  const ctx = canvas.getContext("2d"), [low, high] = state.built.extent;
  for (const [x1, x2, label] of state.drawn) {
    const px = (x1 - low) / (high - low) * canvas.width, py = (high - x2) / (high - low) * canvas.height;
    ctx.beginPath(); ctx.moveTo(px - 4, py - 4); ctx.lineTo(px + 4, py + 4);
    ctx.moveTo(px + 4, py - 4); ctx.lineTo(px - 4, py + 4);
    ctx.lineWidth = 2; ctx.strokeStyle = label > 0 ? "#0877bd" : "#f59322"; ctx.stroke();
  }
}

function explainAt(event) {  // the nearest drawn point to a click on the output
  const built = state.built, canvas = $("heatmap");
  if (!built || !built.points) return;
  const rect = canvas.getBoundingClientRect(), [low, high] = built.extent;
  const px = (event.clientX - rect.left) / rect.width, py = (event.clientY - rect.top) / rect.height;
  let best = null;
  for (const part of $("show-test").checked ? ["train", "test"] : ["train"]) {
    built.points[part].x.forEach(([x1, x2], index) => {
      const d = ((x1 - low) / (high - low) - px) ** 2 + ((high - x2) / (high - low) - py) ** 2;
      if (!best || d < best.d) best = { d, part, index };
    });
  }
  if (best && best.d < 0.03 ** 2) send({ type: "explain", part: best.part, index: best.index });
}

// ---- pictures ---------------------------------------------------------------------------
const PALETTE = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207], [31, 70, 120], [250, 200, 50]];

function classColour(k, strength = 1) {  // class k's colour, faded towards white
  const [r, g, b] = PALETTE[k % PALETTE.length];
  return [255 + (r - 255) * strength, 255 + (g - 255) * strength, 255 + (b - 255) * strength];
}

function colour(v) {  // -1 orange, 0 white, +1 blue, as the TensorFlow Playground
  const t = Math.max(-1, Math.min(1, v));
  const [r, g, b] = t >= 0 ? [8, 119, 189] : [245, 147, 34];
  const s = Math.abs(t);
  return [255 + (r - 255) * s, 255 + (g - 255) * s, 255 + (b - 255) * s];
}

function paint(canvas, values, grid, scale, light = 1) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(grid, grid);
  for (let i = 0; i < grid * grid; i++) {
    const [r, g, b] = colour(values[i] * scale * light);
    image.data.set([r, g, b, 255], 4 * i);
  }
  const off = document.createElement("canvas");
  off.width = off.height = grid;
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function unitMaps(frame) {
  const all = floats(frame.maps);
  const size = frame.grid * frame.grid, maps = [];
  for (let i = 0; i < all.length / size; i++) maps.push(all.subarray(i * size, (i + 1) * size));
  return maps;
}

function inputMap(name, grid, extent) {
  const [low, high] = extent, values = new Float32Array(grid * grid);
  for (let i = 0; i < grid; i++) for (let j = 0; j < grid; j++) {
    const x1 = low + (high - low) * j / (grid - 1), x2 = high - (high - low) * i / (grid - 1);
    values[i * grid + j] = FEATURE_FUNCTIONS[name](x1, x2);
  }
  return values;
}

function scaleOf(values) {
  let most = 1e-9;
  for (const v of values) most = Math.max(most, Math.abs(v));
  return 1 / most;
}

function floats(text) {  // base64 float32, as the server packs maps and weights (a static page's: the array)
  if (typeof text !== "string") return text;
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function unpackWeights(frame) {  // [layer][row][column], from the flat float32 and the shapes
  const flat = floats(frame.weights), matrices = [];
  let at = 0;
  for (const [rows, columns] of frame.shapes) {
    const matrix = [];
    for (let r = 0; r < rows; r++, at += columns) matrix.push(Array.from(flat.subarray(at, at + columns)));
    matrices.push(matrix);
  }
  return matrices;
}

function biasTitle(el) {
  el.title = `bias ${Number(el.dataset.value).toFixed(3)} (layer ${el.dataset.layer}, unit ${Number(el.dataset.unit) + 1})`;
}

function showBiases(frame) {  // each bias on its neuron: blue positive, orange negative
  const flat = floats(frame.biases);
  let at = 0;
  frame.shapes.forEach(([rows], l) => {
    for (let r = 0; r < rows; r++, at++) {
      const el = state.biasCells[`${l + 1},${r}`];
      if (!el) continue;
      const shade = `rgb(${colour(flat[at]).map(Math.round).join(",")})`;
      if (el.dataset.shade !== shade) { el.style.background = shade; el.dataset.shade = shade; }
      el.dataset.value = flat[at];
      if (flat.length <= 64) biasTitle(el);  // a large network's: when hovered
    }
  });
}

function fits(frame, built) {  // a frame of the run the page shows (not of the one before)
  const widths = built.widths;
  return frame.shapes.length === widths.length - 1 &&
    frame.shapes.every(([rows, columns], l) => rows === widths[l + 1] && columns === (l ? widths[l] : built.features.length));
}

function showFrame() {
  const frame = state.frame, built = state.built;
  if (!frame || !built || !fits(frame, built)) return;
  $("epoch").textContent = frame.epoch;
  if (frame.playing !== undefined && frame.playing !== state.playing) setPlaying(frame.playing);  // played from Python too
  $("test-loss").textContent = frame.loss.test.toFixed(3);
  $("rate-now").textContent = Number(frame.lr.toPrecision(3)).toString();
  $("train-loss").textContent = frame.loss.train.toFixed(3);
  drawCurve(remember(frame));
  drawGradients(frame.gradient_norms);
  if (state.linkCanvas) paintLinks(state.linkCanvas, floats(frame.weights), frame.shapes, layout());
  else drawLinks(unpackWeights(frame));
  showBiases(frame);
  showReplicas(frame);
  if (!frame.maps) { showProbe(frame); return; }
  const maps = unitMaps(frame), grid = frame.grid;
  const canvases = [...document.querySelectorAll("#network canvas.unit")];
  for (const canvas of canvases) {
    const layer = Number(canvas.dataset.layer), unit = Number(canvas.dataset.unit);
    const values = mapOf(maps, layer, unit, grid, frame.mapped);
    if (values) paint(canvas, values, grid, layer === built.widths.length - 1 && built.task === "binary" ? 1 : scaleOf(values));
  }
  if (!state.hover && built.task === "multiclass") { drawClasses(maps.slice(-built.widths[built.widths.length - 1]), grid); return; }
  const shown = (state.hover && mapOf(maps, state.hover[0], state.hover[1], grid, frame.mapped)) || maps[maps.length - 1];
  drawHeatmap(shown, grid, !state.hover);
}

function mapOf(maps, layer, unit, grid, mapped) {  // a unit's picture; null for a layer drawn without
  if (layer === 0) return inputMap(state.built.features[unit], grid, state.built.extent);
  if (!mapped.includes(layer)) return null;
  let index = 0;
  for (const l of mapped) if (l < layer) index += state.built.widths[l];
  return maps[index + unit];
}

function drawClasses(outputs, grid, canvas = $("heatmap")) {  // each pixel in its most likely class's colour
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(grid, grid);
  for (let i = 0; i < grid * grid; i++) {
    let best = 0, total = 0;
    outputs.forEach((o, k) => { if (o[i] > outputs[best][i]) best = k; });
    outputs.forEach((o) => { total += Math.exp(o[i] - outputs[best][i]); });
    const p = 1 / total;  // the winner's softmax probability
    const strength = $("discretize").checked ? 0.6 : 0.6 * p;
    image.data.set([...classColour(best, strength), 255], 4 * i);
  }
  const off = document.createElement("canvas");
  off.width = off.height = grid;
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  if (canvas === $("heatmap")) drawPoints(canvas);
}

function drawHeatmap(values, grid, isOutput) {
  const canvas = $("heatmap"), built = state.built;
  let shown = values, scale = scaleOf(values);
  if (isOutput && built.task === "binary") {
    shown = values.map((p) => ($("discretize").checked ? (p >= 0.5 ? 1 : -1) : 2 * p - 1));
    scale = 1;
  } else if (isOutput && $("discretize").checked) {
    shown = values.map((v) => Math.sign(v)); scale = 1;
  }
  paint(canvas, shown, grid, scale, 0.6);  // lighter than the points drawn on it
  drawPoints(canvas);
}

function drawPoints(canvas) {
  const built = state.built, ctx = canvas.getContext("2d"), [low, high] = built.extent;
  const parts = $("show-test").checked ? ["train", "test"] : ["train"];
  for (const part of parts) {
    const points = built.points && built.points[part];
    if (!points) continue;
    points.x.forEach(([x1, x2], i) => {
      const px = (x1 - low) / (high - low) * canvas.width, py = (high - x2) / (high - low) * canvas.height;
      const y = points.y[i];
      const v = built.task === "binary" ? 2 * y - 1 : y;
      const [r, g, b] = built.task === "multiclass" ? classColour(y) : colour(v);
      ctx.beginPath(); ctx.arc(px, py, 3, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${r},${g},${b})`; ctx.fill();
      ctx.lineWidth = part === "test" ? 1.5 : 0.8;
      ctx.strokeStyle = part === "test" ? "#000" : "#fff"; ctx.stroke();
    });
  }
  drawDrawn(canvas);
}

function drawGradients(norms) {  // one bar per layer, log10 from 1e-8 to 10
  const canvas = $("gradients"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!norms || !norms.length) return;
  const width = canvas.width / norms.length, floor = -8, top = 1;
  ctx.font = "10px sans-serif";
  norms.forEach((norm, l) => {
    const level = Math.max(floor, Math.log10(Math.max(norm, 1e-12)));
    const h = (level - floor) / (top - floor) * (canvas.height - 14);
    ctx.fillStyle = "#0877bd";
    ctx.fillRect(l * width + 4, canvas.height - 12 - h, width - 8, h);
    ctx.fillStyle = "#333";
    ctx.fillText(`${l + 1}: ${norm.toExponential(1)}`, l * width + 4, canvas.height - 2);
  });
}

const CURVE = 200;  // the losses' curve: its latest points

function remember(frame) {  // the curve's points, one per frame; a new run starts a new curve
  const curve = state.curve || (state.curve = []), last = curve[curve.length - 1];
  if (last && frame.epoch < last[0]) curve.length = 0;
  if (!last || frame.epoch !== last[0] || frame.steps !== last[3]) curve.push([frame.epoch, frame.loss.train, frame.loss.test, frame.steps, frame.lr]);
  if (curve.length > CURVE) curve.splice(0, curve.length - CURVE);
  return curve;
}

function drawCurve(history) {
  const canvas = $("curve"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  const most = Math.max(...history.map((h) => Math.max(h[1], h[2]))) || 1;
  const fastest = Math.max(...history.map((h) => h[4])) || 1;  // the rate, on its own scale
  [[1, "#777", most], [2, "#000", most], [4, "#36c", fastest]].forEach(([column, stroke, top]) => {
    ctx.beginPath();
    ctx.setLineDash(column === 4 ? [3, 3] : []);
    history.forEach((h, i) => {
      const x = i / (history.length - 1) * canvas.width, y = canvas.height * (1 - h[column] / top);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.strokeStyle = stroke; ctx.stroke();
  });
  ctx.setLineDash([]);
}

document.addEventListener("visibilitychange", () => {  // a hidden tab frees its training's share
  send({ type: "idle", hidden: document.hidden });
});

hideControls();
bindControls();
connect();

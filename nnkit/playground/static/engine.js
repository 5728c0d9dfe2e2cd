// The static page's engine, in a Web Worker: it answers the page's messages as the server's
// session does (nnkit.playground.messages) with the WebAssembly program (static_run.js), and
// while the page plays it trains in chunks of about CHUNK_MS, a frame after each, so that
// drawing never waits for training. What only Python does is refused in one line that names
// the command doing it.
import { instantiate } from "./program.mjs";
import { Run } from "./static_run.js";
import { description, frame as drawn } from "./static_pictures.js";
import { overrides, SettingError } from "./static_config.js";

const CHUNK_MS = 12, STEP_MS = 2;  // training between two looks for messages; one call of the program
const FRAME_MS = 30;  // a frame at most this often
const ready = Promise.all([
  fetch("catalog.json").then((r) => r.json()),
  fetch("program.wasm").then((r) => r.arrayBuffer()).then(instantiate),
]);
let run = null, playing = false, hidden = false, timer = null, perCall = 1;
let drawing = false;  // a frame is with the page, not drawn yet: training goes on without another
let framed = 0, readyFrame = null;  // when the last frame went; the next, made while it is drawn

const post = (message) => postMessage(message);
const error = (text, stopped = false) => post({ type: "error", message: text, ...(stopped ? { stopped } : {}) });

function python(what, command) {
  return new SettingError(`${what} needs Python, which this static page runs without: ${command} does it`);
}

function build(catalog, program, message) {
  const example = message.example ?? null;
  if (example !== null && example !== "article") throw new SettingError(`example=${JSON.stringify(example)} is not known (choose from: article)`);
  const settings = example === "article" ? catalog.article.settings : message.settings ?? {};
  const next = new Run(program, catalog, settings);
  if (run) run.free();
  run = next;
  playing = false;
  readyFrame = null;  // a frame of the last run never follows this one's description
  if (example === "article") run.setArticleWeights();
  const built = description(run);
  if (example === "article") built.explained = run.explain(catalog.article.input, catalog.article.label);
  return built;
}

function handle(catalog, program, message) {
  const kind = message.type;
  if (kind === "configure") return build(catalog, program, message);
  if (kind === "idle") { hidden = message.hidden !== false; schedule(); return null; }
  if (kind === "drawn") {  // the next frame, if one waits
    drawing = readyFrame !== null;
    if (readyFrame) post(readyFrame);
    readyFrame = null;
    return null;
  }
  if (kind === "points" || kind === "upload") throw python("your own points and files", "python -m nnkit.playground (then draw or upload them)");
  if (!run) throw new SettingError(`'${kind}' before 'configure': the page has no run yet`);
  switch (kind) {
    case "play": playing = true; schedule(); return null;
    case "pause": playing = false; return null;
    case "step": run.finishEpoch(); post(frame()); return null;
    case "lr":
      if (typeof message.value !== "number" || !(message.value > 0)) throw new SettingError(`optimizer.lr=${message.value} should be a number > 0`);
      run.setLr(message.value); post(frame()); return null;
    case "weight": run.setWeight(message.layer, message.row, message.column, message.value); post(frame()); return null;
    case "probe": run.setProbe(message.input); post(frame()); return null;
    case "explain": return run.explain(...run.point(message));
    case "export": playing = false; return exported();
    case "script": throw python("the run as a PyTorch script", `python -m nnkit.script ${overrides(run.settings).join(" ")}`);
    default:
      throw new SettingError(`unknown message type '${kind}' (choose from: configure, play, pause, idle, step, lr, weight, probe, export, script, explain, points, upload)`);
  }
}

function frame() { return { ...drawn(run), playing }; }

function exported() {
  if (run.next) run.finishEpoch();
  if (run.epoch === 0) throw new SettingError("nothing to export yet: train at least one epoch (play, or step)");
  return { type: "export", ...run.exported() };
}

function schedule() {  // the next chunk of training, if the page plays and is shown
  if (timer === null && playing && !hidden && run) timer = setTimeout(train, 0);
}

function train() {  // training until the next frame is due (CHUNK_MS at most), then that frame
  timer = null;
  if (!playing || hidden || !run) return;
  const started = performance.now(), due = framed + FRAME_MS;
  const until = readyFrame ? started + CHUNK_MS : Math.min(started + CHUNK_MS, due);
  try {
    do {
      const before = performance.now(), steps = run.advance(perCall), took = performance.now() - before;
      if (steps === perCall) perCall = Math.max(1, Math.min(100000, Math.round(perCall * STEP_MS / Math.max(took, 0.05))));
    } while (performance.now() < until);
  } catch (failure) {
    playing = false;
    error(failure.message, true);
    return;
  }
  if (performance.now() >= due && readyFrame === null) {  // sent now, or once the last is drawn
    framed = performance.now();
    if (drawing) readyFrame = frame();
    else { post(frame()); drawing = true; }
  }
  schedule();
}

onmessage = async (event) => {
  const [catalog, program] = await ready;
  let message;
  try {
    message = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
    if (typeof message !== "object" || message === null) throw new SettingError("a message is a JSON object with a 'type'");
    const reply = handle(catalog, program, message);
    if (reply) post(reply);
    if (reply && reply.type === "built") post(frame());
  } catch (failure) {
    error(failure instanceof SettingError ? failure.message : `${failure.name}: ${failure.message}`);
  }
};

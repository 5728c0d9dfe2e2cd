// The static page's settings as a run's config: the page's keys (nnkit.playground.settings)
// over the defaults nnkit's config path composed (catalog.json, nnkit.playground.static_page),
// checked as the server checks them, every mistake one line that names the value and the
// choices. What only Python does (files, plugins, checkpoints) is refused with the command that
// does it.

const PYTHON = "python -m nnkit.playground";

export class SettingError extends Error {}

function closest(name, valid) {  // " — did you mean 'X'?" for a close name, as nnkit.registry says it
  const distance = (a, b) => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const kept = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = kept;
      }
    }
    return row[b.length];
  };
  const ranked = valid.map((v) => [distance(String(name), v), v]).sort((a, b) => a[0] - b[0]);
  return ranked.length && ranked[0][0] <= Math.max(1, Math.floor(ranked[0][1].length / 2)) ? ` — did you mean '${ranked[0][1]}'?` : "";
}

function choose(kind, value, valid) {
  if (typeof value !== "string" || !valid.includes(value)) {
    throw new SettingError(`unknown ${kind} '${value}'${closest(value, valid)} (available: ${valid.join(", ")})`);
  }
  return value;
}

function plugin(chosen) {  // a name not built in may be a plugin's, which only Python loads
  try { return chosen(); } catch (error) {
    throw new SettingError(`${error.message}; a plugin's needs Python: ${PYTHON} plugins=[MODULE]`);
  }
}

function number(key, value, low, high, whole = false) {
  const ok = typeof value === "number" && Number.isFinite(value) && value >= low && value <= high && (!whole || Number.isInteger(value));
  if (!ok) throw new SettingError(`${key}=${JSON.stringify(value)} should be ${whole ? "a whole number" : "a number"} in [${low}, ${high}]`);
  return value;
}

function perLayer(key, value, check) {  // one value for every hidden layer, or a list of them
  return Array.isArray(value) ? value.map((v) => check(v)) : check(value);
}

function needsPython(key, value) {
  return new SettingError(`${key}=${value} needs Python, which this static page runs without: ` +
    `${PYTHON} ${key}=${value}${key === "data" && value === "csv" ? " data.path=FILE" : ""} does it`);
}

// The checked value of one page setting, its config section and name.
function checked(key, value, catalog, data) {
  const c = catalog.choices, limits = catalog.limits;
  switch (key) {
    case "data":
      if (!c.data.includes(value) && typeof value === "string" && /^[a-z_]+$/.test(value)) throw needsPython(key, value);
      return choose("dataset", value, c.data);
    case "data.path": case "data.standardize": case "data.dim":
      throw needsPython(key, value);
    case "data.n": return number(key, value, 10, limits.points, true);
    case "data.noise": return number(key, value, 0, 1);
    case "data.batch_size": return number(key, value, 1, limits.points, true);
    case "data.seed": case "seed": return number(key, value, 0, 2 ** 31 - 1, true);
    case "data.classes":
      if (data !== "gaussians") throw new SettingError(`data.classes is gaussians' setting, not ${data}'s`);
      return number(key, value, 2, 12, true);
    case "data.train_fraction": return number(key, value, 0.1, 0.9);
    case "model.hidden": {
      const widths = Array.isArray(value) ? value : [value];
      if (!widths.every((w) => Number.isInteger(w) && w >= 1)) throw new SettingError(`model.hidden=${JSON.stringify(value)}: the hidden layers' widths are positive whole numbers, e.g. [4, 2]`);
      if (widths.length > limits.layers || Math.max(0, ...widths) > limits.units) throw new SettingError(`model.hidden=${JSON.stringify(value)}: the playground draws at most ${limits.layers} layers of at most ${limits.units} units`);
      return widths;
    }
    case "model.activation": return perLayer(key, value, (v) => plugin(() => choose("activation", v, c.activations)));
    case "model.norm": return perLayer(key, value, (v) => choose("normalization", v, c.norms));
    case "model.dropout": return perLayer(key, value, (v) => number(key, v, 0, 0.95));
    case "model.residual": if (typeof value !== "boolean") throw new SettingError(`model.residual=${value} should be true or false`); return value;
    case "model.init": return choose("initializer", value, c.inits);
    case "model.features":
      if (value === null) return null;
      if (!Array.isArray(value) || !value.length) throw new SettingError(`model.features is empty (choose from: ${c.features.join(", ")})`);
      value.forEach((f) => choose("feature", f, c.features));
      if (new Set(value).size !== value.length) throw new SettingError(`model.features=${JSON.stringify(value)} names a feature twice`);
      return value;
    case "loss": return plugin(() => choose("loss", value, c.losses));
    case "optimizer": return choose("optimizer", value, c.optimizers);
    case "optimizer.lr":
      if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) throw new SettingError(`optimizer.lr=${value} should be a number > 0`);
      return value;
    case "scheduler": return choose("scheduler", value, c.schedulers);
    case "scheduler.interval": return choose("interval", value, ["epoch", "step"]);
    case "regularization.kind": return choose("regularization", value, c.regularizations);
    case "regularization.rate": return number(key, value, 0, 10);
    case "trainer.replicas": return number(key, value, 1, limits.replicas, true);
    default:
      throw new SettingError(`unknown setting '${key}'${closest(key, catalog.keys)} (choose from: ${catalog.keys.join(", ")})`);
  }
}

// The run's config for the page's settings: the defaults, each group the page chose (data,
// optimizer, schedule) with its own, then every setting.
export function compose(settings, catalog) {
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new SettingError(`settings should be an object of keys and values, not ${JSON.stringify(settings)}`);
  }
  const config = structuredClone(catalog.base);
  const data = settings.data === undefined ? catalog.default_data : checked("data", settings.data, catalog);
  config.data = structuredClone(catalog.data[data].config);
  if (settings.optimizer !== undefined) {
    const chosen = checked("optimizer", settings.optimizer, catalog), o = catalog.optimizers[chosen];
    config.optimizer = { name: chosen, lr: o.lr, weight_decay: o.weight_decay, ...(chosen === "sgd" ? { momentum: o.momentum } : { betas: [o.beta1, o.beta2] }) };
  }
  if (settings.scheduler !== undefined) config.scheduler = structuredClone(catalog.schedules[checked("scheduler", settings.scheduler, catalog)]);
  for (const [key, value] of Object.entries(settings)) {
    if (["data", "optimizer", "scheduler"].includes(key)) continue;
    const result = checked(key, value, catalog, data);
    const [section, name] = key.includes(".") ? key.split(".") : [key, null];
    if (name === null && section === "loss") config.loss.name = result;
    else if (name === null) config[section] = result;
    else if (section === "data" && !(name in config.data)) throw new SettingError(`${key} is not a setting of ${data} (its settings: ${Object.keys(config.data).filter((k) => k !== "name").join(", ")})`);
    else config[section][name] = result;
  }
  return config;
}

// The values of the page's settings as this run has them (nnkit.playground.pictures.settings).
export function shownSettings(config, catalog) {
  const values = {};
  for (const key of catalog.keys) {
    const [section, name] = key.split(".");
    const node = config[section];
    if (name !== undefined) {
      if (node && typeof node === "object" && name in node) values[key] = node[name];
    } else {
      values[key] = node && typeof node === "object" ? node.name : node;
    }
  }
  return values;
}

// The python -m nnkit.train overrides of the page's settings (nnkit.playground.settings).
export function overrides(settings) {
  const format = (v) => (Array.isArray(v) ? `[${v.map(format).join(",")}]` : v === null ? "null" : String(v));
  return Object.entries(settings).map(([key, value]) => `${key}=${format(value)}`);
}

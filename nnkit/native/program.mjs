// nnkit's native program compiled to WebAssembly (nnkit.native.wasm), driven from JavaScript:
// the same program.cpp, its Spec written byte by byte where the module says each field lies
// (nnkit_spec_fields, nnkit_spec_layout), its arrays copied into the module's memory and back.
// No browser or node API is used here, so a page's worker and node's test runner share it.

const UNSUPPORTED = () => 52;  // WASI's ENOSYS: the program never writes a file
const TYPES = { f64: Float64Array, i64: BigInt64Array, i32: Int32Array, ptr: Uint32Array };

export async function instantiate(bytes) {
  const imports = { wasi_snapshot_preview1: { fd_close: UNSUPPORTED, fd_seek: UNSUPPORTED, fd_write: UNSUPPORTED } };
  const { instance } = await WebAssembly.instantiate(bytes, imports);
  instance.exports._initialize();
  return new Program(instance.exports);
}

class Program {
  constructor(exports) {
    this.x = exports;
    const text = new Uint8Array(exports.memory.buffer, exports.nnkit_spec_fields());
    const names = new TextDecoder().decode(text.subarray(0, text.indexOf(0)));
    this.fields = names.split(",").filter(Boolean).map((field) => field.split(" "));  // [name, type]
    const layout = new Int32Array(exports.memory.buffer, exports.nnkit_spec_layout(), this.fields.length + 1);
    this.offsets = Array.from(layout.slice(0, this.fields.length));
    this.specSize = layout[this.fields.length];
  }

  // An array in the module's memory, filled with values (or count zeros): its address, kept
  // until free(address) (a page's run holds its arrays as long as it lives).
  alloc(values, kind = "f64") {
    const count = typeof values === "number" ? values : values.length;
    const address = this.x.malloc(Math.max(1, count) * TYPES[kind].BYTES_PER_ELEMENT);
    const view = this.view(address, count, kind);
    if (typeof values === "number") view.fill(kind === "i64" ? 0n : 0);
    else view.set(kind === "i64" ? Array.from(values, (v) => BigInt(v)) : values);
    return address;
  }

  // A typed array over the module's memory (a new one each time: the memory may have grown).
  view(address, count, kind = "f64") { return new TYPES[kind](this.x.memory.buffer, address, count); }

  free(address) { this.x.free(address); }

  // An array in the module's memory: its address (freed when the call under way ends).
  put(values, kind = "f64") {
    const address = this.alloc(values, kind);
    this.held.push(address);
    return address;
  }

  // The names an exported list gives (nnkit_activation_names, ...), in its order.
  names(list) {
    this.lists = this.lists || {};
    if (!this.lists[list]) {
      const text = new Uint8Array(this.x.memory.buffer, this.x[list]());
      this.lists[list] = new TextDecoder().decode(text.subarray(0, text.indexOf(0))).split(",").filter(Boolean);
    }
    return this.lists[list];
  }

  // One field of a Spec in the module's memory set anew (a new learning rate, Adam's count).
  setField(spec, name, value) {
    this.fieldIndex = this.fieldIndex || Object.fromEntries(this.fields.map(([field], f) => [field, f]));
    const f = this.fieldIndex[name], type = this.fields[f][1];
    const bytes = new DataView(this.x.memory.buffer, spec + this.offsets[f], 8);
    if (type === "f64") bytes.setFloat64(0, value, true);
    else if (type === "i32") bytes.setInt32(0, value, true);
    else bytes.setUint32(0, value, true);
  }

  read(address, count) { return Array.from(new Float64Array(this.x.memory.buffer, address, count)); }

  spec(values, pointers) {
    const address = this.x.malloc(this.specSize);
    this.held.push(address);
    const bytes = new DataView(this.x.memory.buffer, address, this.specSize);
    for (let i = 0; i < this.specSize; i++) bytes.setUint8(i, 0);
    this.fields.forEach(([name, type], f) => {  // each field's given values (an array's, in turn)
      const given = type === "ptr" ? [pointers[name] ?? 0] : [].concat(values[name] ?? []);
      for (let k = 0; k < given.length; k++) {
        const at = this.offsets[f] + k * (type === "f64" ? 8 : 4);
        if (type === "f64") bytes.setFloat64(at, given[k], true);
        else if (type === "i32") bytes.setInt32(at, given[k], true);
        else bytes.setUint32(at, given[k], true);
      }
    });
    return address;
  }

  // The tensors of a group (weights, gradients, a moment) in memory, and their pointer array.
  group(tensors) {
    const addresses = tensors.map((t) => this.put(t));
    return { addresses, table: this.put(addresses, "ptr") };
  }

  // One training call (nnkit_train_f64): every step of call.offsets; returns the losses, the
  // outputs and every group's values after it.
  train(call) {
    this.held = [];
    try {
      const pointers = { lrs: call.lrs ? this.put(call.lrs) : 0, masks: call.masks ? this.put(call.masks) : 0 };
      const spec = this.spec(call.spec, pointers);
      const groups = Object.fromEntries(["params", "grads", "first", "second"].map((g) => [g, call[g] ? this.group(call[g]) : null]));
      const steps = call.offsets.length - 1, outputs = call.outputs;
      const losses = this.x.malloc(8 * steps), out = this.x.malloc(8 * outputs);
      this.held.push(losses, out);
      this.x.nnkit_train_f64(spec, groups.params.table, groups.grads.table, groups.first?.table ?? 0,
        groups.second?.table ?? 0, this.put(call.x), call.dense ? this.put(call.dense) : 0,
        call.labels ? this.put(call.labels, "i64") : 0, this.put(call.offsets, "i64"), losses, out);
      const after = Object.fromEntries(Object.entries(groups).filter(([, g]) => g).map(([name, g]) =>
        [name, g.addresses.map((a, i) => this.read(a, call[name][i].length))]));
      return { losses: this.read(losses, steps), outputs: this.read(out, outputs), ...after };
    } finally {
      this.held.forEach((a) => this.x.free(a));
    }
  }

  // A training call kept in the module's memory, its weights and state resident: run() takes
  // call.offsets' steps once more on the weights as they now are (a page's next epoch), read()
  // gives the weights, free() releases it all.
  resident(call) {
    this.held = [];
    const spec = this.spec(call.spec, {}), params = this.group(call.params);
    const grads = this.group(call.params.map((p) => p.map(() => 0)));
    const first = call.first ? this.group(call.first).table : 0, second = call.second ? this.group(call.second).table : 0;
    const x = this.put(call.x), dense = call.dense ? this.put(call.dense) : 0;
    const labels = call.labels ? this.put(call.labels, "i64") : 0, offsets = this.put(call.offsets, "i64");
    const losses = this.x.malloc(8 * (call.offsets.length - 1)), outputs = this.x.malloc(8 * call.outputs);
    const held = [...this.held, losses, outputs];
    return {
      run: () => this.x.nnkit_train_f64(spec, params.table, grads.table, first, second, x, dense, labels, offsets, losses, outputs),
      read: () => params.addresses.map((a, i) => this.read(a, call.params[i].length)),
      params: params.table,
      free: () => held.forEach((a) => this.x.free(a)),
    };
  }

  // Every unit's value at each point (nnkit_maps_f64), for replica r.
  maps(call) {
    this.held = [];
    try {
      const spec = this.spec(call.spec, {}), params = this.group(call.params);
      const values = this.x.malloc(8 * call.values);
      this.held.push(values);
      this.x.nnkit_maps_f64(spec, call.replica ?? 0, params.table, this.put(call.x), BigInt(call.points), values);
      return this.read(values, call.values);
    } finally {
      this.held.forEach((a) => this.x.free(a));
    }
  }
}

// The browser bench's worker (nnkit.bench.browser): the static page's engine (static_run.js on
// the WebAssembly program, one epoch a call, its rows shuffled each epoch as the page trains
// them) against the JavaScript contender written after the Playground's src/nn.ts
// (playground.js), in the same worker of the same browser, in interleaved rounds of `ms` each.
importScripts("playground.js");

function rate(train, ms) {  // epochs a second over about ms
  let epochs = 0;
  const start = performance.now();
  while (performance.now() - start < ms) { train(); epochs++; }
  return epochs / ((performance.now() - start) / 1000);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

onmessage = async ({ data: options }) => {
  const { instantiate } = await import("./program.mjs");
  const { Run } = await import("./static_run.js");
  const catalog = await (await fetch("catalog.json")).json();
  const program = await instantiate(await (await fetch("program.wasm")).arrayBuffer());
  const run = new Run(program, catalog, options.settings);
  const engine = globalThis.playgroundEngine, random = engine.seeded(1);
  const points = engine.circle(run.data.train.n, random), layers = engine.build(options.widths, random);
  const contenders = {
    page: () => run.advance(run.batches),
    playground: () => engine.epoch(layers, points, options.batch, options.lr),
  };
  const rounds = { page: [], playground: [] };
  for (const train of Object.values(contenders)) rate(train, options.ms);  // the JIT's warm-up
  for (let r = 0; r < options.rounds; r++) {
    for (const [name, train] of Object.entries(contenders)) rounds[name].push(rate(train, options.ms));
  }
  postMessage({ page: median(rounds.page), playground: median(rounds.playground), points: run.data.train.n });
};

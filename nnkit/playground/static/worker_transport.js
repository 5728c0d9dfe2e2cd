// The static page talks to its engine in a Web Worker (engine.js: the WebAssembly program)
// instead of a server's WebSocket (app.js's connect): messages go as objects both ways, the
// frames' arrays as typed arrays; each frame, once drawn, is acknowledged, so that the worker
// never sends frames faster than the page draws them.
window.NNKIT_TRANSPORT = class {
  constructor() {
    this.readyState = 1;
    this.worker = new Worker("engine.js", { type: "module" });
    this.worker.onmessage = (event) => {
      if (this.onmessage) this.onmessage({ data: event.data });
      if (event.data.type === "frame") this.worker.postMessage({ type: "drawn" });  // the next may come
    };
    this.worker.onerror = (event) => this.onmessage && this.onmessage({ data: { type: "error", message: `the page's engine failed: ${event.message}`, stopped: true } });
    setTimeout(() => this.onopen && this.onopen(), 0);
  }

  send(text) { this.worker.postMessage(text); }
};

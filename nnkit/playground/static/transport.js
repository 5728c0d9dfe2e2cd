// A notebook widget's page talks to its frame's parent instead of a WebSocket (app.js's connect).
window.NNKIT_TRANSPORT = class {
  constructor() {
    this.readyState = 1;
    window.addEventListener("message", (event) => {
      if (event.source === window.parent && event.data && typeof event.data.nnkitReply === "string" && this.onmessage) {
        this.onmessage({ data: event.data.nnkitReply });
      }
    });
    setTimeout(() => this.onopen && this.onopen(), 0);
  }

  send(text) { window.parent.postMessage({ nnkit: text }, "*"); }
};

// The playground in a notebook (nnkit.playground.widget): the page in a frame of its own, its
// messages carried by the widget's comm to the kernel's session and back (no server, no port).
function render({ model, el }) {
  const frame = document.createElement("iframe");
  frame.className = "nnkit-playground";
  frame.style.cssText = "width: 100%; height: 900px; border: 0;";
  frame.srcdoc = model.get("page");
  el.appendChild(frame);
  const fromPage = (event) => {
    if (event.source === frame.contentWindow && event.data && typeof event.data.nnkit === "string") {
      model.send({ text: event.data.nnkit });
    }
  };
  const toPage = (message) => {
    if (frame.contentWindow) frame.contentWindow.postMessage({ nnkitReply: message.text }, "*");
  };
  window.addEventListener("message", fromPage);
  model.on("msg:custom", toPage);
  return () => {
    window.removeEventListener("message", fromPage);
    model.off("msg:custom", toPage);
  };
}

export default { render };

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The article, chapter by chapter
#
# *Neural Networks Demystified* explains a network by drawing it and computing it by hand.
# This notebook follows its chapters and runs each idea with nnkit: the same numbers, then
# the training runs that show what the article claims. It runs top to bottom on a CPU in
# about a minute; open it with `jupyter lab docs/tutorial/article.py` (jupytext) or read it
# here, outputs and figures included. Each chapter ends with one thing to try.

# %%
import contextlib
import io
import json
import tempfile
from pathlib import Path
from urllib.parse import quote

import matplotlib.pyplot as plt
import torch
from IPython.display import IFrame, Image, display

import nnkit
from nnkit.draw import draw_network
from nnkit.explain import explain
from nnkit.inference.example import load
from nnkit.playground import Playground
from nnkit.train import run
from nnkit.viz.figures import decision_boundary, hidden_units

runs = Path(tempfile.mkdtemp(prefix="nnkit-tutorial-"))
QUIET = ["trainer.progress_bar=none", "logger=none"]


def train(name, *overrides):
    """Train one run into the tutorial's folder (its summary kept in ``summary.txt`` there);
    its final metrics and its folder."""
    folder = runs / name
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        metrics = run([*QUIET, *overrides, f"hydra.run.dir={folder}"])
    (folder / "summary.txt").write_text(printed.getvalue())
    return metrics, folder


PLAYGROUND = "../../playground/index.html"  # the site's static page (docs/gen_playground.py)
NETWORK_ONLY = "data,features,export,replicas,scheduler,norm,dropout,residual,init,regularization"


def live(settings=None, hide=NETWORK_ONLY, example=None):
    """The site's playground, in this chapter: the static page set to ``settings`` (its
    URL's), its controls trimmed (``?hide=``), trained in the reader's browser by the
    WebAssembly program when play is pressed."""
    query = {"example": example, "hide": hide}
    query = "&".join(f"{key}={value}" for key, value in query.items() if value)
    state = "&".join(f"{key}={quote(json.dumps(value))}" for key, value in (settings or {}).items())
    frame = ['class="nnkit-live"', 'loading="lazy"', 'style="border: 1px solid #ddd"']
    display(IFrame(f"{PLAYGROUND}?{query}#{state}", "100%", 900, extras=frame))


def show(figure):
    """Show a matplotlib figure as a PNG in the notebook (nnkit draws off-screen)."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    display(Image(png.getvalue()))


# %% [markdown]
# ## 1. The forward pass and its worked example
#
# A unit multiplies each input by a weight, adds a bias, and passes the sum through an
# activation. The article's example: inputs (1, 0.5), weights (1, 0.5) and bias 2 give
# 1 · 1 + 0.5 · 0.5 + 2 = 3.25, which ReLU keeps; the second unit receives −0.3, which ReLU
# crushes to 0; the output unit's weights 2 and −1.25 give 6.5, and the sigmoid answers
# 0.9985. `nnkit.explain` prints every number of that pass (and of one step back):

# %%
example = load(["example=article", "input=[1,0.5]", "target=[1]"])
print(explain(example))

# %% [markdown]
# `nnkit.draw` draws the same pass as the article draws it: the values flowing forward, and
# on the right the errors and corrections of one step of backpropagation.

# %%
show(draw_network(example.net, example.x, example.target))

# %% [markdown]
# The same network, live: the playground opens on the article's weights and explains its
# point, 3.25 → 3.25, −0.3 → 0, 6.5 → 0.9985; press *step* to take the step it explains.

# %%
live(example="article")

# %% [markdown]
# **Try this:** `load(["example=article", "input=[0,1]", "target=[0]"])` — which hidden unit
# switches off now, and how large are the corrections when the answer is already close?

# %% [markdown]
# ## 2. Activation functions
#
# The activation decides what a unit passes on. Each of nnkit's is a `torch.autograd.Function`
# whose derivative is written by hand; here each is drawn with that derivative.

# %%
x = torch.linspace(-4, 4, 401, dtype=torch.float64, requires_grad=True)
names = nnkit.ACTIVATIONS.names()
rows = -(-len(names) // 5)
fig, axes = plt.subplots(rows, 5, figsize=(12, 2.4 * rows), squeeze=False)
for ax in axes.flat[len(names) :]:
    ax.set_axis_off()
for ax, name in zip(axes.flat, names):
    y = nnkit.build_activation(name)(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    ax.plot(x.detach(), y.detach(), label=name)
    ax.plot(x.detach(), slope, "--", label="derivative")
    ax.set_title(name)
axes.flat[0].legend(["activation", "derivative"], fontsize=7)
fig.tight_layout()
show(fig)

# %% [markdown]
# The step's derivative is zero everywhere but at 0: gradient descent cannot learn through
# it. Chapter 5 shows what nnkit does about that. **Try this:** plot
# `nnkit.build_activation("step", ste="clipped")` — its forward is the step, its backward is
# not.

# %% [markdown]
# ## 3. Linear against non-linear
#
# Without an activation, layers collapse into one linear map. On data that is not linear,
# a linear model stops where a network with one hidden layer goes on:

# %%
linear, _ = train("linear", "data=nonlinear", "model=linear", "trainer.max_epochs=40")
curved, _ = train("curved", "data=nonlinear", "model.hidden=[16]", "trainer.max_epochs=40")
print(
    f"R² of a linear model: {linear['test/r2']:.3f}; with one hidden layer: {curved['test/r2']:.3f}"
)

# %% [markdown]
# In the playground: the bump is a regression no plane fits. With no hidden layer the output
# stays a tilted plane; press + for a hidden layer and play again.

# %%
live({"data": "bump", "model.hidden": []}, hide="data,export,replicas,scheduler,norm,dropout")

# %% [markdown]
# **Try this:** `model.hidden=[16,16]` with `model.activation=identity` — many layers, still
# one straight line.

# %% [markdown]
# ## 4. The circle
#
# Points inside a circle are one class, outside the other: no straight line separates them.
# A linear model reaches the share of the larger class; a small network draws the circle.

# %%
flat, _ = train("circle-linear", "data=circular", "model=linear", "trainer.max_epochs=30")
round_, folder = train("circle-mlp", "data=circular", "trainer.max_epochs=30")
print(f"accuracy, linear: {flat['test/acc']:.3f}; one hidden layer of 32: {round_['test/acc']:.3f}")
net, sizes = nnkit.load_model(folder / "checkpoints" / "last.ckpt")
points = nnkit.DATASETS.get("circular")(n=1000)
show(decision_boundary(net, *points.test, sizes["task"]))
show(hidden_units(net, points.test[0]))

# %% [markdown]
# Live, with the article's four hidden units: each unit's picture is a straight edge.

# %%
live({"data": "circular", "model.hidden": [4], "model.activation": "tanh"})

# %% [markdown]
# Each small picture is one hidden unit's response over the plane: every unit draws a
# straight edge, and the output combines them into a circle. **Try this:** train with
# `model.hidden=[4]`, the article's width, and count the edges.

# %% [markdown]
# ## 5. The step and its straight-through estimator
#
# The step is what the article's first neurons used, and its derivative is zero almost
# everywhere. nnkit trains it anyway with a *straight-through estimator*: the forward is the
# step, the backward pretends it was the identity (or an identity clipped to [−1, 1]); with
# `ste=none` it is the step's true derivative, zero. Each variant's backward is proved against
# its own reference.

# %%
for ste in ("none", "identity", "clipped"):
    metrics, _ = train(
        f"step-{ste}",
        "data=circular",
        "model.activation=step",
        f"+model.activation_args.ste={ste}",
        "trainer.max_epochs=30",
    )
    print(f"step, ste={ste}: test/acc {metrics['test/acc']:.3f}")

# %% [markdown]
# The step network in the playground, trained by its straight-through estimator:

# %%
live({"data": "circular", "model.hidden": [8], "model.activation": "step"})

# %% [markdown]
# With `ste=none` the hidden layer gets no gradient at all: only the output layer learns, on
# whatever edges the hidden units drew at random — enough for a fair circle with 32 of them,
# but the surrogate gradients move the edges themselves. **Try this:** `model.hidden=[4]`
# with each estimator — with four random edges, `ste=none` has little to combine.

# %% [markdown]
# ## 6. The 7-segment network
#
# The article's network reads a 7-segment display: 7 inputs, a hidden layer of 4, 10 outputs,
# one per digit.

# %%
digits, folder = train(
    "seven", "data=seven_segment", "model.hidden=[4]", "trainer.max_epochs=300", "optimizer.lr=0.05"
)
net, sizes = nnkit.load_model(folder / "checkpoints" / "last.ckpt")
six = torch.tensor([[1.0, 0, 1, 1, 1, 1, 1]])
print(
    f"train/acc {digits['train/acc']:.2f}; the display of a six is read as {int(net(six).argmax())}"
)

# %% [markdown]
# The 7-4-10 network, live: click the display's segments to read a digit of your own, and
# try *seeds at once* to see how many seeds solve it.

# %%
live(
    {"data": "seven_segment", "model.hidden": [4], "optimizer.lr": 0.05},
    hide="data,features,export,scheduler,norm,dropout,residual,init,regularization",
)

# %% [markdown]
# Four hidden units are few: with some seeds the network never separates all ten digits.
# **Try this:** `seed=1`, `seed=2`, ... or `trainer.replicas=20` to train twenty seeds at once
# and read how many solve it.

# %% [markdown]
# ## 7. Gradient descent
#
# Each step moves every weight against its gradient, by the learning rate. Too small and
# training crawls, too large and it overshoots:

# %%
for lr in (0.001, 0.05, 1.0):
    metrics, _ = train(
        f"lr-{lr}", "data=circular", "optimizer=sgd", f"optimizer.lr={lr}", "trainer.max_epochs=20"
    )
    print(f"plain SGD, learning rate {lr}: train/loss {metrics['train/loss']:.3f}")

# %% [markdown]
# Plain SGD, live: change the learning rate while it plays (no reset) and watch the curve.

# %%
live(
    {"data": "circular", "model.hidden": [4], "optimizer": "sgd", "optimizer.lr": 0.003},
    hide="data,features,export,replicas,norm,dropout,residual,init,regularization",
)

# %% [markdown]
# **Try this:** `optimizer.lr=1e6` — nnkit stops the run with one line naming the step at
# which the loss became infinite.

# %% [markdown]
# ## 8. Backpropagation
#
# The gradient of the cost is found backwards, layer by layer: the error at the output,
# multiplied through each activation's derivative and each layer's weights. nnkit's
# derivatives are written by hand, and each is proved against torch's autograd in float64
# (the same table as `python -m nnkit.gradcheck`):

# %%
from nnkit.proof.ops import check_all, format_table  # noqa: E402

print(format_table(check_all()))

# %% [markdown]
# The worked example of chapter 1 gave each weight's correction; they equal autograd's
# (the last lines of its table). **Try this:** `python -m nnkit.gradcheck relu` in a
# terminal, then write an activation of your own (the plugins guide) and prove it the same
# way.

# %% [markdown]
# ## 9. Deep learning
#
# Stacking layers lets a network build features of features, but the error signal must
# travel back through every derivative on the way. The sigmoid's derivative is at most 0.25:
# through many sigmoid layers the first layers' gradients vanish, and they barely learn.

# %%
deep, folder = train(
    "deep",
    "data=spiral",
    "model.hidden=[16,16,16,16,16,16]",
    "model.activation=sigmoid",
    "trainer.max_epochs=10",
)
net, _ = nnkit.load_model(folder / "checkpoints" / "last.ckpt")
points = nnkit.DATASETS.get("spiral")()
net.zero_grad()
outputs = net(points.train[0])
torch.nn.functional.binary_cross_entropy_with_logits(outputs, points.train[1]).backward()
weights = [p for p in net.parameters() if p.ndim == 2]
norms = [float(w.grad.norm()) for w in weights]
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.bar(range(1, len(norms) + 1), norms)
ax.set(
    yscale="log",
    xlabel="layer",
    ylabel="gradient norm",
    title="a deep sigmoid network: the first layers' gradients vanish",
)
show(fig)
print(
    f"spiral, 6 sigmoid layers, 10 epochs: test/acc {deep['test/acc']:.3f}; gradient "
    f"norms from the first layer to the last: {', '.join(f'{n:.1e}' for n in norms)}"
)

# %% [markdown]
# The vanishing gradient, live: the bars under the network are each layer's gradient norm at
# the last step, on a log scale.

# %%
live(
    {"data": "spiral", "model.hidden": [8, 8, 8, 8, 8, 8], "model.activation": "sigmoid"},
    hide="data,features,export,replicas,scheduler,dropout,init,regularization",
)

# %% [markdown]
# **Try this:** the same network with `model.activation=relu`, whose derivative is 1 wherever
# a unit is on — the bars level out. Or keep the sigmoid and add `model.residual=true` (each
# layer adds its input to its output, so the error reaches the first layers along the skips)
# or `model.norm=batch` (each unit standardized over the batch): in a ten-layer sigmoid
# network either keeps the first layer's gradient within ten times the last one's, where
# without them it is a hundred million times smaller (`tests/test_promises.py`).

# %% [markdown]
# ## 10. How the weights start
#
# The article starts its weights at random, and the reason is symmetry: units of one layer
# that start equal compute the same sum, receive the same correction, and so stay equal —
# a layer of four units behaves as one. `model.init` chooses the start (`nnkit.initializers`:
# torch's default, Xavier/Glorot and Kaiming/He, normal, the Playground's small random
# numbers, zeros and ones), drawn from the run's seeded generator:

# %%
for init in ("ones", "small_random"):
    network = ["model.hidden=[4]", "model.activation=tanh", f"model.init={init}"]
    _, folder = train(f"init-{init}", "data=circular", *network, "trainer.max_epochs=150")
    trained = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    units = len({tuple(row.tolist()) for row in trained["net.layers.0.weight"]})
    print(f"model.init={init}: {units} distinct hidden unit(s) of 4")

# %% [markdown]
# **Try this:** `model.init=zeros` — every hidden weight stays 0 (no error reaches them), and
# only the output's bias learns.

# %% [markdown]
# ## 11. The playground, here
#
# `Playground(...)` shows the page of `python -m nnkit.playground` inside this notebook (in
# JupyterLab, Jupyter Notebook or VS Code; `pip install "nnkit[notebook]"`), trained by this
# kernel: no server, no port, and whatever the notebook registered or wrote is at hand. Its
# settings are `nnkit.train`'s overrides; play it, change it, then read what it trained:

# %%
pg = Playground("data=spiral", "model.hidden=[8,8]", "model.activation=tanh")
display(pg)

# %% [markdown]
# The run is Python's to read while or after the page plays — `pg.net` (the network, an
# `nn.Module`), `pg.metrics`, `pg.settings`, and `pg.export()`, which writes it for the command
# line (the `nnkit.train` line that replays it bit for bit, its config and checkpoint):

# %%
pg.play()
pg.wait(epochs=30)
pg.pause()
print({key: round(value, 3) for key, value in pg.metrics.items()})
print("first layer's weights:", tuple(pg.net.network_params()[0].shape))

"""``python -m nnkit.bench``: nnkit against the programs it must beat, in one process and on
one machine, ratios in one run. One module per comparison:

- ``throughput``: steady-state training rate at batch 32 and 1024, against a hand-written loop
  (eager and compiled), plain Lightning and scikit-learn, with the arithmetic rate reached;
- ``replicas``: many seeds as one program, in process and through the command line;
- ``end_to_end``: the main job from process start to exit, against a plain script and a
  minimal Hydra + Lightning app;
- ``autograd``: nnkit's network in a user's own loop, against ``nn.Sequential``;
- ``machine``: the machine's own matrix-product rate and description.
"""

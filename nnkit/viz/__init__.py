"""The pictures: what a model has learned (``figures``), one step traced and explained
(``step``, ``table``; ``python -m nnkit.explain``), the network drawn (``draw``;
``python -m nnkit.draw``), and every TensorBoard tab a run fills (``board``)."""

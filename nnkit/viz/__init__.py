"""Pictures and plain numbers of what a network does: one step explained (``step``,
``python -m nnkit.explain``) and the network drawn (``draw``, ``python -m nnkit.draw``)."""

"""The configuration: the groups that name registry entries (``groups``), the typed schema
(``schema``), signature checks (``signature``), composing overrides (``compose``), building
objects from sections (``build``) and preparing a whole run (``prepare``).

>>> from nnkit.config.prepare import prepare
"""

"""nnkit's native program: a small network's many training steps as one call of C++.

``build`` compiles ``program.cpp`` once per machine (cached on disk) and loads it;
``program`` plans a network's steps for it and runs them on torch's own tensors.

>>> from nnkit.native.plan import plan_program
"""

"""The run folder's rules: atomic writes and storage errors, checkpoints, the run's lock, how
the processes of one run were launched (SLURM, torchrun), and sweep summaries.

>>> from nnkit.runs.storage import write_atomic
"""

"""``python -m nnkit.predict``: a trained model's answers
(the command lives in ``nnkit.commands.predict``; this path is the one users type and
import)."""

import sys

from nnkit.commands.predict import load_model, main, parse_args

__all__ = ["load_model", "main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())

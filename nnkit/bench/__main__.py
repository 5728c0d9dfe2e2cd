import sys

from nnkit.bench.cli import main

sys.exit(main())

"""Allow `python -m lifa_jax.cli`."""

import sys

from . import main

sys.exit(main())

"""`python -m cli ...` (and `accelerate launch -m cli train ...`) = `lcm-writer ...`."""

import sys

from cli import main

sys.exit(main())

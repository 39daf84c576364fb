"""`python -m porteiro_sim.evaluation` (what `make eval` runs)."""

import sys

from porteiro_sim.evaluation.run import main

sys.exit(main())

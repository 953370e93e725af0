"""Run digitize as `python -m digitize`."""

import sys

from digitize.cli import main

sys.exit(main())

"""``python -m diffil.cli``: the ``diffil`` command."""

import sys

from diffil.cli import main

sys.exit(main())

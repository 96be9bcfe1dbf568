"""``python -m crmcore.cli``: the same as the ``crmcore`` command."""

import sys

from crmcore.cli import main

sys.exit(main())

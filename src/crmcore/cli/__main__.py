"""``python -m crmcore.cli``: the same as the ``crmcore`` command."""

from crmcore.cli import console_main

console_main()

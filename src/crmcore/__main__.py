"""``python -m crmcore``: the ``crmcore`` command line, the same as the installed script."""

from crmcore.cli import console_main

if __name__ == "__main__":
    console_main()

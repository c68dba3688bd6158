"""`python -m eduscore` runs the command-line interface."""

from eduscore.cli import main

raise SystemExit(main())

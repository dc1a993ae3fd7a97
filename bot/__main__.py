"""``python -m bot``: the Kindred command line."""

from bot.cli import main

raise SystemExit(main())

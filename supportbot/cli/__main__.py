"""`python -m supportbot.cli`: the same as the `supportbot` command."""

import sys

from supportbot.cli import main

sys.exit(main())

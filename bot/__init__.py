"""supportbot runtime: server, dialogue manager, channels, moderation, conversation store.

docs/architecture.md has a map of the rooms below.
"""

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
"""The widget, the demo page and the review page, served as files."""

"""supportbot runtime: server, dialogue manager, channels, moderation, conversation store."""

__version__ = "0.1.0"

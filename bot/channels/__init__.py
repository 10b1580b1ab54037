"""Channels: the transports that carry customer messages in and bot replies out."""

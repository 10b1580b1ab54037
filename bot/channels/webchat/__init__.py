"""The web chat channel: the embeddable widget, its WebSocket and a REST fallback."""

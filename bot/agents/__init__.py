"""People in the loop: agent accounts, the handoff queue, the console and its JSON API."""

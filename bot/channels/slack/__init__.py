"""The Slack channel: Events API or Socket Mode in, chat.postMessage out."""

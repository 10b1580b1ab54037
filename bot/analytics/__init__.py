"""Support analytics over the conversation log: figures, charts and the report files."""

"""The dialogue manager and the stages a turn passes through (pipeline.py lists them)."""

"""The conversation log and what lives beside it: dialogue state, privacy operations and
review labels."""

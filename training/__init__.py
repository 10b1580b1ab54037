"""Turns support data into model directories: import, validate, train, evaluate."""

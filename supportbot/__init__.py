"""supportbot's kernel: the errors, the `supportbot.yml` schema and the version.

Every other package of the project imports from here; this package imports nothing of
theirs (tests/test_layers.py). The command line lives beside it in `supportbot.cli`, at
the top of the layers, because it is the one place allowed to import everything.
"""

__version__ = "0.1.0"

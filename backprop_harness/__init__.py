"""backprop-harness: plumbing shared by the tests and the command line (reporting, checks, CLI)."""
__version__ = "0.1.0"

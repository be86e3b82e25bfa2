"""Tests that kill the mutants of reference/ that the suite let survive (docs/mutation-testing.md)."""

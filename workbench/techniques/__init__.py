"""Training-efficiency techniques, one module per family (see docs/conventions.md)."""

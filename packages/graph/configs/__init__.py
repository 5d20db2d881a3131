"""Shipped recipes: <model>/<dataset>_<task>.yaml, each opening with the command that runs it."""

"""Shipped recipes: ``<model>/<variant>.yaml``, each opening with the command that runs it."""

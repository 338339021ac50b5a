"""The worker process of `manage.py index_search --processes N` (and of the search benchmark's
indexing): started by `spawn`, so it imports nothing of the app at load and sets Django up
itself, with its own database connection (a forked child would share its parent's, whose
session holds the runner lock)."""
from __future__ import annotations


def index_slot(args: tuple[int, int, int]) -> int:
    """Index slot args[0] of args[1] in batches of args[2]; how many logs it indexed."""
    import django

    django.setup()
    from logs import search_indexer

    return search_indexer.index_slot(*args)

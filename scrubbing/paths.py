"""Allow-listed paths (`payload.trace.*.observation`) as a trie the scrubber's walk follows."""
from __future__ import annotations

from typing import Any

END = object()  # an allow-listed path ends here: keep everything below it


def allow_trie(paths: list[str]) -> dict[str, Any]:
    """`payload.trace.*.observation` -> {"payload": {"trace": {"*": {"observation": END}}}}."""
    trie: dict[str, Any] = {}
    for path in paths:
        node = trie
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is END:
                break
            node = child
        else:
            node[parts[-1]] = END
    return trie

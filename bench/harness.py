"""The shared benchmark harness's log generator, used where it lives rather than copied here.

Our fixture must hold exactly the logs the harness loads into the peer, so it runs the
harness's own `gen.py`: from `BENCH_HARNESS`, else the runnable copy `../benchwork`, else
`../shared/bench` (see bench/README.md).
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def harness_dirs() -> list[Path]:
    configured = os.environ.get("BENCH_HARNESS")
    return ([Path(configured)] if configured else []) + [ROOT.parent / "benchwork", ROOT.parent / "shared" / "bench"]


@functools.cache
def load_gen() -> ModuleType:
    for directory in harness_dirs():
        path = directory / "gen.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("bench_harness_gen", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
            spec.loader.exec_module(module)
            return module
    searched = ", ".join(str(d) for d in harness_dirs())
    raise FileNotFoundError(f"The benchmark harness's gen.py is not in {searched}; set BENCH_HARNESS "
                            "(see bench/README.md).")

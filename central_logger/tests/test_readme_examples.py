"""Every shell example of the README runs, top to bottom, against a live server on the test
database, as a reader following it would: `curl` fails on any HTTP error, `manage.py` runs the
same settings. A block that cannot run here (Docker, a server of its own, the test suite) is
marked just above its fence with `<!-- not run by the README test: <why> -->`."""
from __future__ import annotations

import os
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from central_logger.tests.live import ROOT, LiveServer
from conftest import database_url

README = ROOT / "README.md"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
MARK = re.compile(r"<!-- not run by the README test: (?P<why>[^>]*\S)\s*-->\s*$")
SHELL = ("sh", "bash", "shell", "console")
README_URL = "http://127.0.0.1:8000"


@dataclass
class Block:
    line: int
    body: str
    skipped_because: str | None


def shell_blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        if match.group("lang") not in SHELL:
            continue
        before = text[:match.start()].rstrip("\n").splitlines()
        mark = MARK.search(before[-1]) if before else None
        found.append(Block(line=len(before) + 1, body=textwrap.dedent(match.group("body")),
                           skipped_because=mark.group("why") if mark else None))
    return found


def test_every_shell_example_is_run_or_says_why_not() -> None:
    blocks = shell_blocks(README.read_text())
    run = [b for b in blocks if b.skipped_because is None]
    assert len(run) >= 15, [b.line for b in run]
    for block in blocks:
        assert block.skipped_because is None or len(block.skipped_because) > 10, block.line
    # An unrunnable placeholder in a block that is run would fail it: none is left in the text.
    for block in run:
        code = "\n".join(line.split("  #")[0] for line in block.body.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"\{\.\.\.\}|clk_\.\.\.|<prefix>|<id from", code), block.line


@pytest.mark.django_db(transaction=True)
def test_the_readmes_shell_examples_run_against_a_live_server(tmp_path: Path) -> None:
    blocks = [b for b in shell_blocks(README.read_text()) if b.skipped_because is None]
    workdir = tmp_path / "reader"
    workdir.mkdir()
    for entry in ROOT.iterdir():  # the reader's checkout, in a directory of its own (files they download land there)
        if entry.name not in (".git", ".env", "var"):
            (workdir / entry.name).symlink_to(entry)
    with LiveServer(tmp_path / "gunicorn.log") as server:
        script = ["set -euo pipefail",
                  # An HTTP error fails the example, as the reader would notice it.
                  'curl() { command curl --fail-with-body --show-error "$@"; }']
        for n, block in enumerate(blocks):
            script += [f"echo '### README line {block.line}' >&2", block.body.replace(README_URL, server.url),
                       f"echo '### ok {n}' >&2"]
        env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
               "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
               "SPOOL_PATH": server.env["SPOOL_PATH"]}
        env.pop("KEY", None)
        result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, env=env, capture_output=True,
                                text=True, timeout=300)
    failed_at = [line for line in result.stderr.splitlines() if line.startswith("### README line")][-1:]
    assert result.returncode == 0, f"{failed_at}\n{result.stderr[-3000:]}\n{result.stdout[-2000:]}"
    assert f"### ok {len(blocks) - 1}" in result.stderr

"""On-disk spool: batches of serialized logs that survive outages and restarts.

One file per batch, JSON lines (one serialized log per line). Files are written
atomically (temp file + fsync + rename + fsync of the directory), replayed
oldest first, and deleted only once the collector acknowledged every log in
them (delivered, duplicate or rejected as invalid).

File name: ``<time_ns>-<pid>-<seq>-<count>.jsonl``; the log count is in the
name so the spool can be sized without reading files.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from typing import List, Optional, Tuple

logger = logging.getLogger("central_logger_sdk")

SUFFIX = ".jsonl"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 300.0


def default_spool_dir(url: str, api_key: str) -> Optional[str]:
    """The spool directory used when ``spool_dir`` is not given: a private directory under the
    user's state directory (``$XDG_STATE_HOME`` or ``~/.local/state``; ``%LOCALAPPDATA%`` on
    Windows), one per collector URL and API key so that logs are always replayed with the key
    they were shipped with. None when no such directory can be created and written (no home
    directory, a read-only file system): then there is no spool."""
    if os.name == "nt":
        base = anchor = os.environ.get("LOCALAPPDATA") or ""
    elif os.environ.get("XDG_STATE_HOME"):
        base = os.environ["XDG_STATE_HOME"]
        anchor = os.path.dirname(base.rstrip("/"))
    else:
        anchor = os.path.expanduser("~")
        base = os.path.join(anchor, ".local", "state")
    # A home that does not exist (HOME=/nonexistent for service users) is never created.
    if not base or not os.path.isabs(base) or not os.path.isdir(anchor):
        return None
    digest = hashlib.sha256(("%s\n%s" % (url, api_key)).encode("utf-8")).hexdigest()[:16]
    directory = os.path.join(base, "central-logger-sdk", "spool", digest)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK | os.X_OK) else None


class Spool:
    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = os.path.abspath(directory)
        self.max_bytes = int(max_bytes)
        self._seq = itertools.count()
        os.makedirs(self.directory, exist_ok=True)

    # -- scanning ---------------------------------------------------------
    def files(self) -> List[Tuple[str, int, int]]:
        """Sorted (oldest first) list of (path, n_logs, n_bytes)."""
        out = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in sorted(names):
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            path = os.path.join(self.directory, name)
            try:
                size = os.path.getsize(path)
            except OSError:
                continue  # replayed and deleted by another process meanwhile
            out.append((path, _count_from_name(name), size))
        return out

    def pending(self) -> Tuple[int, int, int]:
        """(files, logs, bytes) currently in the spool."""
        files = self.files()
        return len(files), sum(f[1] for f in files), sum(f[2] for f in files)

    def cleanup_stale_tmp(self) -> None:
        """Remove temp files left by a crash in the middle of a write."""
        now = time.time()
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            if name.startswith(TMP_PREFIX):
                path = os.path.join(self.directory, name)
                try:
                    if now - os.path.getmtime(path) > STALE_TMP_SECONDS:
                        os.unlink(path)
                except OSError:
                    pass

    # -- writing ----------------------------------------------------------
    def write(self, lines: List[bytes], current_bytes: Optional[int] = None) -> bool:
        """Atomically write one batch. False if the spool is full or on I/O error."""
        if not lines:
            return True
        data = b"\n".join(lines) + b"\n"
        if current_bytes is None:
            current_bytes = self.pending()[2]
        if current_bytes + len(data) > self.max_bytes:
            return False
        name = "%020d-%d-%06d-%d%s" % (time.time_ns(), os.getpid(), next(self._seq), len(lines), SUFFIX)
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, TMP_PREFIX + name)
        try:
            # 0600: the logs are the user's (the collector's answers may be on a shared machine).
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            self._fsync_dir()
            return True
        except OSError as exc:
            logger.warning("central_logger_sdk: cannot write spool file in %s: %s", self.directory, exc)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False

    def read(self, path: str) -> Optional[List[bytes]]:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("central_logger_sdk: cannot read spool file %s: %s", path, exc)
            return None
        return [line for line in data.split(b"\n") if line.strip()]

    def remove(self, path: str) -> None:
        try:
            os.unlink(path)
            self._fsync_dir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("central_logger_sdk: cannot delete spool file %s: %s", path, exc)

    def replace(self, path: str, lines: List[bytes]) -> None:
        """Keep only ``lines`` of a partially acknowledged file (atomically)."""
        if not lines:
            self.remove(path)
            return
        if self.write(lines, current_bytes=0):
            self.remove(path)

    def _fsync_dir(self) -> None:
        if not hasattr(os, "O_DIRECTORY"):
            return
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _count_from_name(name: str) -> int:
    try:
        return int(name[: -len(SUFFIX)].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 1

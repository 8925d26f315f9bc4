"""Crash-safe file writes: write a temporary file in the same folder, fsync, then rename.

A temporary file is named `<final name>.tmp-<host>-<pid>-<token>`, so a later process can tell
whether its writer is still alive and remove the file when it is not.
"""

import hashlib
import logging
import os
import secrets
import socket
import time
from pathlib import Path

log = logging.getLogger("t2c.features.atomic")

TEMP_MARKER = ".tmp-"
STALE_AFTER_S = 24 * 3600  # age after which a temporary file of another host counts as stray


def host_name() -> str:
    """Return this machine's host name, usable inside a file name."""
    return socket.gethostname().replace("/", "_") or "host"


def temp_path(path: Path) -> Path:
    """Return a fresh temporary path next to `path` that names this host and process."""
    token = secrets.token_hex(4)
    return path.with_name(f"{path.name}{TEMP_MARKER}{host_name()}-{os.getpid()}-{token}")


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename inside it survives a power loss."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_temp(path: Path, data: bytes) -> Path:
    """Write `data` to a fsynced temporary file next to `path` and return the temporary path."""
    temporary = temp_path(path)
    with open(temporary, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return temporary


def commit(temporary: Path, path: Path) -> None:
    """Rename `temporary` over `path` atomically and flush the folder."""
    os.replace(temporary, path)
    fsync_folder(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see either the old or the new file, never a mix."""
    temporary = write_temp(path, data)
    try:
        commit(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def is_temp_file(path: Path) -> bool:
    """Return whether `path` is a temporary file written by `write_temp`."""
    return TEMP_MARKER in path.name


def process_alive(pid: int) -> bool:
    """Return whether a process with id `pid` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stray(path: Path, now: float) -> bool:
    """Return whether the temporary file `path` has no live writer.

    A file from this host is stray when its process has exited. A file from another host (a
    shared file system) is stray once it is older than `STALE_AFTER_S`.
    """
    owner = path.name.split(TEMP_MARKER, 1)[1]
    parts = owner.rsplit("-", 2)
    try:
        age = now - path.stat().st_mtime
    except FileNotFoundError:
        return False

    if len(parts) == 3 and parts[0] == host_name() and parts[1].isdigit():
        return not process_alive(int(parts[1]))
    return age > STALE_AFTER_S


def remove_stray_temp_files(folder: Path) -> list[Path]:
    """Delete temporary files in `folder` whose writer is gone; return the deleted paths."""
    now = time.time()
    removed = []
    for path in sorted(folder.iterdir()):
        if is_temp_file(path) and is_stray(path, now):
            path.unlink(missing_ok=True)
            removed.append(path)

    if removed:
        log.info("removed %d stray temporary files in %s", len(removed), folder)
    return removed

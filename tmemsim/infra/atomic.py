"""Output directories: claim a target, build beside it, replace it atomically.

tmemsim writes where the user says (`--out`), so it must never destroy what it did not write.
An existing target may be replaced (`--force`) only when it is empty or tmemsim wrote it: its
meta.json carries the marker key "tmemsim" (the directory's kind: "results", "sweep", "curves"
or "verify"), or,
written before there was a marker, "tmemsim_version". The working directory, the scenario's
directory and their ancestors are never written over, marker or not; nor is a symbolic link
or a file.

A directory is built in a hidden workspace beside its target, `.NAME.<random>/NAME`, and
renamed into place when whole. The workspace is made by stage(), before any simulation, so an
unwritable target fails at once. It holds a lock file that its writer keeps locked while it
lives: the next stage() of the same target removes the workspaces whose lock it can take (their
writer was killed) and nothing else. Concurrent writers of one target: the last to commit wins,
and the target is at every moment either absent or a whole directory.

A directory that is written in place, file by file (a sweep's), is claimed by claim_in_place()
instead, and its files written with write_atomic().
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import TmemsimError

try:  # POSIX; elsewhere abandoned workspaces cannot be told from live ones and are left alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MARKER = "tmemsim"  # the meta.json key that says tmemsim wrote a directory; its value: the kind
KINDS = ("results", "sweep", "curves", "verify")
LEGACY_MARKER = "tmemsim_version"  # what meta.json carried before the marker
LOCK_NAME = "tmemsim-partial.lock"  # in a workspace, locked by its living writer
MAX_META_BYTES = 64 * 1024 * 1024  # ours are kilobytes (a large sweep's, megabytes)
MAX_ATTEMPTS = 100  # renames lost to concurrent writers before commit() gives up


class OutputError(TmemsimError):
    """An output directory tmemsim must not or cannot write."""


class OutputExistsError(OutputError, FileExistsError):
    """The target exists and replacing it was not asked for."""


def kind_of(directory) -> str | None:
    """The kind (one of KINDS) when tmemsim wrote directory (by its meta.json), else None."""
    path = Path(directory) / "meta.json"
    try:
        if path.stat().st_size > MAX_META_BYTES:  # not ours; not worth reading
            return None
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if meta.get(MARKER) in KINDS:
        return meta[MARKER]
    if LEGACY_MARKER in meta:
        return "sweep" if "replications" in meta else "results"
    return None


def marked(meta: dict, kind: str) -> dict:
    """meta.json's content with the marker of kind as its first key."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return {MARKER: kind, **{k: v for k, v in meta.items() if k != MARKER}}


def meta_json(meta: dict, kind: str) -> str:
    """meta.json's text for a directory of kind: marked(meta, kind), indented, with what JSON
    has no type for (paths, dates) written as text."""
    return json.dumps(marked(meta, kind), indent=2, default=str) + "\n"


def refuse_protected(path, protect: Iterable = ()) -> None:
    """Refuse the working directory and its ancestors, and each protected file's directory (or
    protected directory) and its ancestors, symbolic links resolved."""
    target = Path(path).resolve()
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise OutputError(f"{path} is or holds the working directory; refusing to write "
                          "results over it")
    for item in protect:
        p = Path(item).resolve()
        home = p if p.is_dir() else p.parent
        if target == home or target in home.parents:
            raise OutputError(f"{path} holds {item}; refusing to write results over it")


class Staged:
    """A target claimed for replacement, with the directory to build it in (`build`).

    commit() renames build into place; discard() removes the workspace and any parents stage()
    created. As a context manager it discards on leaving unless committed.
    """

    def __init__(self, path: Path, workspace: Path, lock: int | None, *, force: bool,
                 trusted: bool, created: list[Path]):
        self.path = path
        self.workspace = workspace
        self.build = workspace / path.name
        self._lock = lock
        self._force = force
        self._trusted = trusted
        self._created = created
        self._open = True

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc) -> bool:
        if self._open:
            self.discard()
        return False

    def commit(self) -> Path:
        """Put build in the target's place (moving away the old one, if it may be replaced)."""
        if not self._open:
            raise RuntimeError(f"{self.path}: already committed or discarded")
        try:
            self._replace()
        except BaseException:
            self.discard()
            raise
        self._close()
        return self.path

    def discard(self) -> None:
        """Remove what stage() made: the workspace, and parents that are still empty."""
        if not self._open:
            return
        self._close()
        _remove_empty(self._created)

    def _close(self) -> None:
        self._open = False
        shutil.rmtree(self.workspace, ignore_errors=True)  # the old target, if moved here
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _replace(self) -> None:
        for attempt in range(MAX_ATTEMPTS):
            _check_replaceable(self.path, self._force, self._trusted)
            try:
                os.rename(self.build, self.path)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise _cannot_write(self.path, exc) from None
            # a whole directory is in the way (ours, checked above): move it into our
            # workspace, which goes when we are done, and try again; if another writer moved
            # it first, or put its own in its place, the loop sees that
            try:
                os.rename(self.path, self.workspace / f"old-{attempt}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise _cannot_write(self.path, exc) from None
        raise OutputError(f"{self.path}: replaced by other writers {MAX_ATTEMPTS} times while "
                          "this one tried to write it; giving up")


def stage(path, *, force: bool = False, protect: Iterable = (), trusted: bool = False) -> Staged:
    """Claim path for a directory to be built beside it and renamed into place.

    Refuses (OutputError) a protected path (see refuse_protected), a symbolic link, a file, an
    existing directory without force (OutputExistsError) and, with force, one that is neither
    empty nor tmemsim's; `trusted` says the caller knows an existing one is tmemsim's (plots/
    inside a claimed directory). Creates missing parents and the workspace, removing abandoned
    workspaces of the same target first.
    """
    target = Path(path)
    refuse_protected(target, protect)
    _check_replaceable(target, force, trusted)
    created = _make_parents(target)
    remove_abandoned(target)
    try:
        workspace = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        _remove_empty(created)
        raise _cannot_write(target, exc) from None
    try:
        lock = _lock(workspace, target.name)
        os.mkdir(workspace / target.name)  # mode from the umask, as any directory
    except OSError as exc:
        shutil.rmtree(workspace, ignore_errors=True)
        _remove_empty(created)
        raise _cannot_write(target, exc) from None
    return Staged(target, workspace, lock, force=force, trusted=trusted, created=created)


def claim_in_place(path, kind: str, *, reuse: bool, protect: Iterable = (),
                   hint: str = "") -> Path:
    """Claim a directory that is written in place, file by file: it must be new or empty, or,
    with reuse, one tmemsim wrote as kind. Creates it and marks it (a meta.json holding only
    the marker) if it has no meta.json yet. `hint` follows the refusal of a non-empty one."""
    target = Path(path)
    refuse_protected(target, protect)
    if target.is_symlink() and not target.is_dir():
        raise OutputError(f"{target} is a symbolic link to no directory; refusing to write there")
    if target.exists():
        if not target.is_dir():
            raise OutputError(f"{target} is not a directory; refusing to write there")
        if not _is_empty(target):
            if not reuse:
                raise OutputExistsError(f"{target} exists and is not empty"
                                        + (f"; {hint}" if hint else ""))
            if kind_of(target) != kind:
                raise OutputError(f"{target} is not a tmemsim {kind} directory; refusing to "
                                  "write into it")
    created = _make_parents(target)
    try:
        target.mkdir(exist_ok=True)
        if not (target / "meta.json").exists():
            write_atomic(target / "meta.json", lambda p: Path(p).write_text(
                json.dumps(marked({}, kind)) + "\n"))
        else:  # written before: can we still write there?
            fd, probe = tempfile.mkstemp(prefix=".tmemsim-probe.", dir=target)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        _remove_empty(created)
        raise _cannot_write(target, exc) from None
    return target


def write_atomic(path, write: Callable[[str], object]) -> Path:
    """Write one file atomically: write(tmp) fills a hidden file beside path, renamed over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_abandoned(path) -> list[Path]:
    """Remove the workspaces of target path whose writer is gone (their lock can be taken and
    names this target); returns what was removed. Nothing else beside path is touched."""
    target = Path(path)
    prefix = f".{target.name}."
    try:
        entries = [e for e in os.scandir(target.parent)
                   if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [Path(e.path) for e in entries if _remove_if_abandoned(Path(e.path), target.name)]


# ---------------------------------------------------------------------------------------------


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}")


def _is_empty(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return next(entries, None) is None


def _check_replaceable(target: Path, force: bool, trusted: bool) -> None:
    """Raise unless target is absent or may be replaced."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:  # e.g. a parent that is a file
        raise _cannot_write(target, exc) from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{target} is a symbolic link; refusing to replace it")
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{target} is not a directory; refusing to replace it")
    if not force:
        raise OutputExistsError(f"{target} exists; use --force to replace it")
    if trusted or kind_of(target) is not None:
        return
    try:
        if _is_empty(target):
            return
    except FileNotFoundError:  # moved away by another writer just now
        return
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    # Another writer may have moved the directory we looked at aside and renamed its own in
    # between our reads (meta.json gone, then a full directory): judge the one there now.
    try:
        replaced = os.lstat(target).st_ino != st.st_ino
    except FileNotFoundError:
        return
    if replaced:
        return _check_replaceable(target, force, trusted)
    raise OutputError(f"{target} is not a tmemsim results directory; refusing to replace it")


def _make_parents(target: Path) -> list[Path]:
    """Create target's missing parents; returns those created, outermost first."""
    created: list[Path] = []
    parent = target.parent
    for p in reversed([parent, *parent.parents]):
        if p.is_dir():
            continue
        try:
            p.mkdir()
            created.append(p)
        except FileExistsError:
            if not p.is_dir():
                _remove_empty(created)
                raise OutputError(f"cannot write {target}: {p} is not a directory") from None
        except OSError as exc:
            _remove_empty(created)
            raise _cannot_write(target, exc) from None
    return created


def _remove_empty(created: list[Path]) -> None:
    """Remove the directories we created, innermost first, as long as they are empty."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:  # not empty: someone else writes there now
            return


def _lock(workspace: Path, name: str) -> int | None:
    """Create the workspace's lock file, already locked when it appears under its name (so no
    one can take it for an abandoned one in between); returns its descriptor."""
    if fcntl is None:  # pragma: no cover
        return None
    tmp = workspace / f".{LOCK_NAME}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = {MARKER: "partial", "target": name, "pid": os.getpid(),
                "host": socket.gethostname()}
        os.write(fd, json.dumps(info).encode())
        os.rename(tmp, workspace / LOCK_NAME)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_if_abandoned(workspace: Path, name: str) -> bool:
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(workspace / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # no lock file: not a workspace of ours
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its writer is alive
            return False
        try:
            info = json.loads(os.read(fd, 4096))
        except (OSError, ValueError):
            return False
        if not isinstance(info, dict) or info.get(MARKER) != "partial" or \
                info.get("target") != name:
            return False
        shutil.rmtree(workspace, ignore_errors=True)  # holding the lock: no one else is in it
        return True
    finally:
        os.close(fd)


__all__ = ["KINDS", "MARKER", "OutputError", "OutputExistsError", "Staged", "claim_in_place",
           "kind_of", "marked", "refuse_protected", "remove_abandoned", "stage", "write_atomic"]

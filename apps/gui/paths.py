"""Every path the app reads or writes for a browser is confined to one runs folder.

A path typed or uploaded in the page is resolved (symbolic links and ``..`` included) and refused with
a one-line message when it lands outside the folder; uploads are cut off at the size limit while they are
received (Gradio's ``max_file_size``), checked row by row before they are copied in, and deleted from
Gradio's temporary folder either way; their messages name the file, never where the server keeps it. The
app serves no file by path: plots and tables go to the page as values.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.data import read_jsonl
from workbench.errors import WorkbenchError
from workbench.runs import CONFIG, EPISODES, atomic_write, default_out
from workbench.training.data import COLUMNS, check_columns

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOADS = "uploads"
NAME_MAX = 255
"""The longest file or folder name, in bytes, on the file systems the app runs on."""


class RunsFolder:
    """The one folder the app's pages may name paths in."""

    def __init__(self, root: str | Path, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_upload_bytes = max_upload_bytes

    def resolve(self, text: str, *, must_exist: bool = False) -> Path:
        """``text`` (relative to the runs folder, or absolute inside it) as a resolved path; a path outside the
        folder, or a missing one with ``must_exist``, is a ``WorkbenchError`` naming it."""
        text = (text or "").strip()
        if not text:
            raise WorkbenchError("no path given: name a folder inside the runs folder")
        if "\x00" in text:
            raise WorkbenchError(f"refused {text!r}: a path may not hold a NUL character")
        try:
            path = Path(text).expanduser()
            resolved = (path if path.is_absolute() else self.root / path).resolve()
        except (OSError, RuntimeError) as error:  # too long, a symbolic-link loop, an unknown ~user
            raise WorkbenchError(f"refused {text!r}: not a usable path ({error.__class__.__name__})") from None
        if any(len(part.encode()) > NAME_MAX for part in resolved.parts):
            raise WorkbenchError(f"refused {text[:40]!r}...: a file or folder name is over {NAME_MAX} bytes")
        if not resolved.is_relative_to(self.root):
            raise WorkbenchError(f"refused {text!r}: paths must stay inside the runs folder {self.root}")
        if must_exist and not resolved.exists():
            raise WorkbenchError(f"{text!r}: no such file or folder in the runs folder {self.root}")
        return resolved

    def relative(self, path: str | Path) -> str:
        """``path`` as the page shows it: relative to the runs folder."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def run_dirs(self) -> list[str]:
        """Run directories (folders with ``config.yaml`` and episodes) under the runs folder, each once (a folder
        reached through a symbolic link too is listed by its own path), newest first; none inside a hidden or
        temporary folder."""
        found = {p.parents[1].resolve() for p in self.root.glob(f"**/{EPISODES}")
                 if (p.parents[1] / CONFIG).is_file()}
        runs = [p for p in found if p.is_relative_to(self.root)
                and not any(part.startswith(".") for part in p.relative_to(self.root).parts)]
        return [self.relative(p) for p in sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)]

    def new_run(self, name: str, kind: str) -> Path:
        """Where a run the page starts is written: the folder ``name`` inside the runs folder (an existing run
        there is continued), or with no name a new ``<kind>-YYYY-MM-DD-HHMM`` there, named as the command line
        names its runs (``workbench.runs.default_out``). A folder inside another run is refused, so that no run
        is written inside another's folder."""
        if not (name or "").strip():
            return Path(default_out(kind, root=self.root))
        path = self.resolve(name)
        if path == self.root:
            raise WorkbenchError(f"refused {name!r}: name a folder inside the runs folder, not the folder itself")
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            if (parent / CONFIG).is_file():
                raise WorkbenchError(f"refused {name!r}: it is inside the run {self.relative(parent)}; name a "
                                     "folder of its own")
        return path

    def planners(self) -> list[str]:
        """Planner checkpoints (folders with ``planner.json``) under the runs folder."""
        return sorted(self.relative(p.parent) for p in self.root.glob("**/planner.json")
                      if not any(part.startswith(".") for part in p.relative_to(self.root).parts))

    def agent_teams(self) -> list[str]:
        """Trained game agent teams (``workbench train rlhg`` run folders: ``model.pt`` beside ``config.yaml``)
        under the runs folder."""
        return sorted(self.relative(p.parent) for p in self.root.glob("**/model.pt")
                      if (p.parent / CONFIG).is_file()
                      and not any(part.startswith(".") for part in p.relative_to(self.root).parts))

    def store_upload(self, source: str | Path, kind: str) -> Path:
        """Check an uploaded JSON Lines file of TRL ``kind`` rows (see ``workbench.training.data.COLUMNS``) and
        copy it to ``<runs>/uploads/``; return the copy. Refuses big files, other formats and bad rows."""
        source = Path(source)
        if kind not in COLUMNS:
            raise WorkbenchError(f"unknown data kind {kind!r} (known: {', '.join(COLUMNS)})")
        if source.suffix != ".jsonl":
            raise WorkbenchError(f"upload {source.name}: expected a .jsonl file (one JSON object per line)")
        size = source.stat().st_size
        if size > self.max_upload_bytes:
            raise WorkbenchError(f"upload {source.name}: {size:,} bytes is over the {self.max_upload_bytes:,}-byte "
                                 "limit")
        rows = 0
        try:
            for line_no, row in read_jsonl(source):
                check_columns(list(row), kind, f"upload {source.name}:{line_no}")
                rows += 1
        except UnicodeDecodeError:
            raise WorkbenchError(f"upload {source.name}: not UTF-8 text") from None
        except WorkbenchError as error:  # the page shows the file's name, never where the server keeps it
            message = str(error).replace(str(source), f"upload {source.name}")
            raise WorkbenchError(message.replace(str(source.parent), "")) from None
        if not rows:
            raise WorkbenchError(f"upload {source.name}: no rows")
        return atomic_write(self.root / UPLOADS / source.name, source.read_bytes())


def discard_upload(received: str | Path, cache: str | Path) -> None:
    """Delete a file Gradio received into its ``cache`` folder, and its folder there once empty; a path outside
    the cache is left alone."""
    cache, received = Path(cache).resolve(), Path(received).resolve()
    if not received.is_relative_to(cache) or received == cache:
        return
    received.unlink(missing_ok=True)
    folder = received.parent
    if folder != cache and folder.is_relative_to(cache) and not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)

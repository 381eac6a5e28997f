"""Every path the app reads or writes for a browser is confined to one runs folder.

A path typed or uploaded in the page is resolved (symbolic links and ``..`` included) and refused with
a one-line message when it lands outside the folder; uploads are checked row by row before they are
copied in. The app serves no file by path: plots and tables go to the page as values.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data import read_jsonl
from workbench.errors import WorkbenchError
from workbench.runs import atomic_write
from workbench.training.data import COLUMNS, check_columns

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOADS = "uploads"


class RunsFolder:
    """The one folder the app's pages may name paths in."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def resolve(self, text: str, *, must_exist: bool = False) -> Path:
        """``text`` (relative to the runs folder, or absolute inside it) as a resolved path; a path outside the
        folder, or a missing one with ``must_exist``, is a ``WorkbenchError`` naming it."""
        text = (text or "").strip()
        if not text:
            raise WorkbenchError("no path given: name a folder inside the runs folder")
        path = Path(text).expanduser()
        resolved = (path if path.is_absolute() else self.root / path).resolve()
        if not resolved.is_relative_to(self.root):
            raise WorkbenchError(f"refused {text!r}: paths must stay inside the runs folder {self.root}")
        if must_exist and not resolved.exists():
            raise WorkbenchError(f"{text!r}: no such file or folder in the runs folder {self.root}")
        return resolved

    def relative(self, path: str | Path) -> str:
        """``path`` as the page shows it: relative to the runs folder."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def run_dirs(self) -> list[str]:
        """Run directories (folders with ``config.yaml`` and episodes) under the runs folder, newest first."""
        found = [p.parent.parent for p in self.root.glob("**/episodes/episodes.jsonl")
                 if (p.parent.parent / "config.yaml").is_file()]
        return [self.relative(p) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]

    def planners(self) -> list[str]:
        """Planner checkpoints (folders with ``planner.json``) under the runs folder."""
        return sorted(self.relative(p.parent) for p in self.root.glob("**/planner.json")
                      if not any(part.startswith(".") for part in p.relative_to(self.root).parts))

    def store_upload(self, source: str | Path, kind: str) -> Path:
        """Check an uploaded JSON Lines file of TRL ``kind`` rows (see ``workbench.training.data.COLUMNS``) and
        copy it to ``<runs>/uploads/``; return the copy. Refuses big files, other formats and bad rows."""
        source = Path(source)
        if kind not in COLUMNS:
            raise WorkbenchError(f"unknown data kind {kind!r} (known: {', '.join(COLUMNS)})")
        if source.suffix != ".jsonl":
            raise WorkbenchError(f"upload {source.name}: expected a .jsonl file (one JSON object per line)")
        size = source.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise WorkbenchError(f"upload {source.name}: {size:,} bytes is over the {MAX_UPLOAD_BYTES:,}-byte limit")
        rows = 0
        try:
            for line_no, row in read_jsonl(source):
                check_columns(list(row), kind, f"upload {source.name}:{line_no}")
                rows += 1
        except UnicodeDecodeError:
            raise WorkbenchError(f"upload {source.name}: not UTF-8 text") from None
        if not rows:
            raise WorkbenchError(f"upload {source.name}: no rows")
        return atomic_write(self.root / UPLOADS / source.name, source.read_bytes())

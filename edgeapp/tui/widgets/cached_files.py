"""The GGUF files in the Hugging Face cache: repo, file, size, whether edgeapp verified them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import DataTable

from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.downloads import CachedFile

_SEPARATOR = "\x00"


class CachedFilesTable(DataTable[Any]):
    """One row per cached GGUF file (any commit); the row key names repo and file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.files: dict[str, CachedFile] = {}

    def on_mount(self) -> None:
        self.add_column("repo", key="repo")
        self.add_column("file", key="file")
        self.add_column("size", key="size")
        self.add_column("checked", key="checked")
        self.add_column("commit", key="commit")

    def show_files(self, files: list[CachedFile]) -> None:
        """Replace the rows with `files`, keeping the cursor on the same file when it is still there."""
        selected = self.selected()
        self.clear()
        self.files = {}
        for item in files:
            key = f"{item.repo}{_SEPARATOR}{item.filename}{_SEPARATOR}{item.commit}"
            self.files[key] = item
            checked = "sha256 ✓" if item.verified else "not verified"
            self.add_row(
                item.repo, item.filename, format_bytes(item.size_bytes), checked, item.commit[:8], key=key
            )
        if selected is not None:
            for index, key in enumerate(self.files):
                if self.files[key].filename == selected.filename and self.files[key].repo == selected.repo:
                    self.move_cursor(row=index)
                    break

    def selected(self) -> CachedFile | None:
        """Return the file under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.files.get(str(key))

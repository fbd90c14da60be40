"""In a real Jupyter kernel, `upload()` shows a progress bar unless given a callback.

The notebook is executed by nbclient in an ipykernel of this environment (no browser, no
display needed); the bar is rich's live display, which a notebook renders as an
ipywidgets widget, so its output is a `display_data` carrying a widget view.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.support import CONFIGS

_WIDGET = "application/vnd.jupyter.widget-view+json"
_UPLOAD = """
import osai_import
config = {{"server": {{"url": "local", "data": ".osai-local"}}, "dataset": {{"name": "{name}"}},
          "source": {{"type": "folder", "path": "photos"}}}}
events = []
report = osai_import.upload(config{progress})
print("uploaded", report.uploaded, "events", len(events))
"""


def _run(folder: Path, name: str, progress: str) -> list[dict[str, object]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(_UPLOAD.format(name=name, progress=progress))]
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    outputs: list[dict[str, object]] = notebook.cells[0].outputs
    return outputs


def test_a_notebook_shows_the_bar_and_a_callback_replaces_it(tmp_path: Path) -> None:
    shutil.copytree(CONFIGS / "examples" / "quickstart", tmp_path / "photos")
    shown = _run(tmp_path, "bar", "")
    widgets = [o for o in shown if o["output_type"] == "display_data"
               and _WIDGET in o["data"]]  # type: ignore[operator]
    assert widgets, shown
    assert any("uploaded 12 events 0" in str(o.get("text", "")) for o in shown), shown
    quiet = _run(tmp_path, "callback", ", progress=events.append")
    assert not [o for o in quiet if o["output_type"] == "display_data"], quiet
    said = " ".join(str(o.get("text", "")) for o in quiet)
    assert "uploaded 12 events" in said and "events 0" not in said, quiet

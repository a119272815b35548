"""What the feedback page shows of a notebook: a bounded copy, built before nbconvert sees it.

A notebook under the load caps may still hold megabytes of source, output
and images, and nbconvert's cost grows with every character it highlights,
renders and sanitizes (a 6 MB cell took 271 s and made a 100 MB page). So the
page shows an excerpt: each cell's source and each output cut to a few KB,
at most so much text and so many images, cells and outputs in all, and a
line saying what was cut wherever something was. What the excerpt keeps is
only what the page template reads (sources, static outputs, images' sizes
and descriptions, tags), so neither a cell's metadata nor an output's kinds
that the page never shows can cost anything.

The excerpt is a new notebook: the student's is never changed, and nbconvert
copies only the excerpt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import nbformat

from grader.report.page import escaped

SHOWN_CELL_CHARS = 10_000        # of one cell's source
SHOWN_OUTPUT_CHARS = 10_000      # of one output's text
SHOWN_TEXT_CHARS = 64_000        # of all sources and output texts together
SHOWN_IMAGE_CHARS = 2_000_000    # of all images' base64, outputs' and attachments' together
SHOWN_CELLS = 500
SHOWN_OUTPUTS = 500              # in all cells together
NOTICE_CLASS = "truncated"

# The kinds of output the page can show, in nbconvert's order of preference
# (HTMLExporter's display_data_priority): an output shows the first it has.
# Scripts and widgets could not run on the page anyway: an output shows its static form.
SHOWN_KINDS = ("text/html", "text/markdown", "image/svg+xml", "text/latex", "image/png", "image/jpeg", "text/plain")
_IMAGE_KINDS = frozenset({"image/png", "image/jpeg"})
_NO_DESCRIPTION = "No description has been provided for this image"   # nbconvert's words for an image's alt
_IMAGE_METADATA = ("width", "height", "alt", "unconfined")              # what the template reads of an image
_SHOWN_TAGS = 20
_SHORT = 200                     # characters of a tag, a description or a lexer's name


@dataclasses.dataclass(frozen=True)
class Excerpt:
    notebook: nbformat.NotebookNode
    after: Mapping[int, str]     # the excerpt's cell index -> HTML to put after it: notices, then the grader's
    cut: bool                    # whether anything was left out or cut short


@dataclasses.dataclass
class _Budget:
    text: int = SHOWN_TEXT_CHARS
    images: int = SHOWN_IMAGE_CHARS
    cells: int = SHOWN_CELLS
    outputs: int = SHOWN_OUTPUTS

    def take_text(self, text: str, limit: int) -> str:
        shown = text[:max(min(limit, self.text), 0)]
        self.text -= len(shown)
        return shown


def excerpt(notebook: nbformat.NotebookNode, after: Mapping[int, str]) -> Excerpt:
    """The part of `notebook` the page shows; `after` maps the notebook's cell indexes to the grader's HTML.

    The grader's HTML for a cell that is left out follows the last cell shown, so no result is lost.
    """
    budget = _Budget()
    cells: list[nbformat.NotebookNode] = []
    shown_after: dict[int, str] = {}
    left_out, left_out_after, cut = 0, "", False
    for index, cell in enumerate(notebook.cells):
        if not cells or (budget.cells > 0 and budget.text > 0):
            shown, notices = _cell(cell, budget)
            cells.append(shown)
            shown_after[len(cells) - 1] = "".join(_notice(n) for n in notices) + after.get(index, "")
            cut = cut or bool(notices)
        else:
            left_out += 1
            left_out_after += after.get(index, "")
    if left_out:
        last = len(cells) - 1
        notice = _notice(f"{left_out} more cell{'s' if left_out > 1 else ''} not shown: this page shows at most "
                         f"{SHOWN_CELLS} cells and {_size(SHOWN_TEXT_CHARS)} of text")
        shown_after[last] = shown_after[last] + notice + left_out_after
        cut = True
    language = notebook.metadata.get("language_info")
    metadata = nbformat.NotebookNode()
    if isinstance(language, Mapping):
        metadata["language_info"] = nbformat.NotebookNode(
            {key: language[key][:_SHORT] for key in ("name", "pygments_lexer") if isinstance(language.get(key), str)})
    shown_notebook = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    return Excerpt(shown_notebook, {index: text for index, text in shown_after.items() if text}, cut)


def _cell(cell: Mapping[str, Any], budget: _Budget) -> tuple[nbformat.NotebookNode, list[str]]:
    budget.cells -= 1
    notices: list[str] = []
    source = str(cell.get("source", ""))
    shown_source = budget.take_text(source, SHOWN_CELL_CHARS)
    if len(shown_source) < len(source):
        notices.append(f"cell truncated: {_size(len(source))}, first {_size(len(shown_source))} shown")
    kind = cell.get("cell_type")
    shown: dict[str, Any] = {"cell_type": kind if kind in ("code", "markdown", "raw") else "raw",
                             "source": shown_source, "metadata": _cell_metadata(cell.get("metadata"))}
    if isinstance(cell.get("id"), str):
        shown["id"] = cell["id"][:64]   # nbformat's own limit; the page's anchors use it
    if shown["cell_type"] == "code":
        count = cell.get("execution_count")
        shown["execution_count"] = count if isinstance(count, int) else None
        described = bool(shown["metadata"].get("alt"))
        shown["outputs"] = _outputs(cell.get("outputs") or [], budget, notices, described)
    elif shown["cell_type"] == "markdown" and cell.get("attachments"):
        attachments = cell["attachments"]
        size = _images_size(attachments)
        if size <= budget.images:
            budget.images -= size
            shown["attachments"] = attachments
        else:
            notices.append(f"the cell's attached images are not shown: {_size(size)}; this page shows at most "
                           f"{_size(SHOWN_IMAGE_CHARS)} of images")
    return nbformat.from_dict(shown), notices


def _outputs(outputs: list[Any], budget: _Budget, notices: list[str],
             described: bool) -> list[nbformat.NotebookNode]:
    """`described`: the cell has a description of its own, for images that have none."""
    shown: list[nbformat.NotebookNode] = []
    for position, output in enumerate(outputs):
        if budget.outputs <= 0:
            notices.append(f"{len(outputs) - position} more outputs not shown: this page shows at most "
                           f"{SHOWN_OUTPUTS} outputs")
            break
        budget.outputs -= 1
        if isinstance(output, Mapping):
            shown.append(_output(output, budget, described))
    return shown


def _output(output: Mapping[str, Any], budget: _Budget, described: bool) -> nbformat.NotebookNode:
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(_joined(output.get("text", "")), budget)
        name = str(output.get("name", "stdout"))[:_SHORT]
        stream: nbformat.NotebookNode = nbformat.v4.new_output("stream", name=name, text=text)
        return stream
    if kind == "error":
        traceback = "\n".join(str(line) for line in output.get("traceback") or [])
        evalue = _text(str(output.get("evalue", "")), budget, _SHORT)
        error: nbformat.NotebookNode = nbformat.v4.new_output("error", ename=str(output.get("ename", ""))[:_SHORT],
                                                              evalue=evalue, traceback=[_text(traceback, budget)])
        return error
    given = output.get("data")
    data: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    shown_kind = next((k for k in SHOWN_KINDS if k in data), None)
    shown_data: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    if shown_kind in _IMAGE_KINDS:
        image = _joined(data[shown_kind])
        if len(image) <= budget.images:
            budget.images -= len(image)
            shown_data[shown_kind] = image
            metadata = _image_metadata(output.get("metadata"), shown_kind)
            if not described and not metadata.get("alt") and not metadata.get(shown_kind, {}).get("alt"):
                metadata["alt"] = _NO_DESCRIPTION
        else:
            shown_data["text/plain"] = (f"[image not shown: {_size(len(image))}; this page shows at most "
                                        f"{_size(SHOWN_IMAGE_CHARS)} of images]")
    elif shown_kind is not None:
        shown_data[shown_kind] = _text(_joined(data[shown_kind]), budget)
    result: dict[str, Any] = {"output_type": "execute_result" if kind == "execute_result" else "display_data",
                              "data": shown_data, "metadata": metadata}
    if kind == "execute_result":
        count = output.get("execution_count")
        result["execution_count"] = count if isinstance(count, int) else None
    shown: nbformat.NotebookNode = nbformat.from_dict(result)
    return shown


def _text(text: str, budget: _Budget, limit: int = SHOWN_OUTPUT_CHARS) -> str:
    shown = budget.take_text(text, limit)
    if len(shown) < len(text):
        shown += f"\n[output truncated: {_size(len(text))}, first {_size(len(shown))} shown]"
    return shown


def _joined(value: Any) -> str:
    """An output's text or data, which nbformat allows as a list of lines."""
    if isinstance(value, list):
        return "".join(str(line) for line in value)
    return value if isinstance(value, str) else ""


def _images_size(attachments: Any) -> int:
    if not isinstance(attachments, Mapping):
        return 0
    return sum(len(_joined(data)) for bundle in attachments.values() if isinstance(bundle, Mapping)
               for data in bundle.values())


def _cell_metadata(metadata: Any) -> dict[str, Any]:
    """The cell metadata the template reads: tags (as classes), a description, a raw cell's format."""
    if not isinstance(metadata, Mapping):
        return {}
    shown: dict[str, Any] = {}
    tags = metadata.get("tags")
    if isinstance(tags, list):
        shown["tags"] = [tag[:_SHORT] for tag in tags[:_SHOWN_TAGS] if isinstance(tag, str)]
    for key in ("alt", "raw_mimetype"):
        if isinstance(metadata.get(key), str):
            shown[key] = metadata[key][:_SHORT]
    return shown


def _image_metadata(metadata: Any, kind: str) -> dict[str, Any]:
    """An image's size and description, top-level or under its kind, as nbconvert's get_metadata reads them.

    Never its 'filenames', which would point the page's <img> at a path or URL instead of its data.
    """
    if not isinstance(metadata, Mapping):
        return {}

    def small(values: Any) -> dict[str, Any]:
        if not isinstance(values, Mapping):
            return {}
        return {key: values[key][:_SHORT] if isinstance(values[key], str) else values[key] for key in _IMAGE_METADATA
                if isinstance(values.get(key), (str, int, float, bool))}

    shown: dict[str, Any] = small(metadata)
    if small(metadata.get(kind)):
        shown[kind] = small(metadata.get(kind))
    return shown


def _notice(text: str) -> str:
    return f'<p class="{NOTICE_CLASS}">{escaped(text)}</p>'


def _size(chars: int) -> str:
    if chars >= 1 << 20:
        return f"{chars / (1 << 20):.1f} MB"
    return f"{max(chars, 1) / 1024:.0f} KB" if chars >= 1024 else f"{chars} characters"

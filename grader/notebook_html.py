"""A student's notebook as sanitized HTML, rendered by nbconvert, for the feedback page.

nbconvert's 'basic' template renders the cells alone (no CDN scripts, no
theme); this module's own template appends the grader's HTML after chosen
cells. Markdown, HTML outputs and highlighted code keep only the tags and
attributes `_clean_html` allows; outputs show their static forms; images
show only data they carry.

A batch renders one notebook per student, so this must cost milliseconds:
one exporter serves the process, and it remembers how it rendered recent
markdown and code cells, since most cells of a class's notebooks are the
released notebook's, the same for every student. A cell's HTML depends on
its source alone (and the notebook's language), except a markdown cell with
attachments, which is rendered each time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import bleach
import nbformat
from jinja2 import DictLoader, pass_context
from jinja2.runtime import Context
from nbconvert import HTMLExporter, TemplateExporter
from nbconvert.filters import Highlight2HTML, get_metadata
from nbconvert.preprocessors import Preprocessor
from traitlets.config import Config

RESULTS_KEY = "convgrade_results"
CACHED_CELLS = 1024        # per cache, least recently used out first: the cells every student shares stay
LARGEST_CACHED = 20_000    # characters: a larger cell or output is rendered each time rather than kept

_TEMPLATE_NAME = "convgrade_feedback.html.j2"
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block any_cell %}
{{ super() }}
{%- set key = cell.metadata.get('""" + RESULTS_KEY + """') -%}
{%- if key %}{{ resources['""" + RESULTS_KEY + """'][key] }}{% endif -%}
{% endblock any_cell %}
"""

# What a notebook's markdown, HTML outputs and highlighted code may keep. nbconvert's
# own sanitizer keeps too little (no paragraphs, headings or images), so it
# would show a student's markdown as escaped tags.
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"})

_STATIC_OUTPUTS = frozenset({"text/html", "text/markdown", "image/svg+xml", "text/latex", "image/png", "image/jpeg",
                             "text/plain"})
_IMAGE_OUTPUTS = frozenset({"image/png", "image/jpeg"})
_NO_DESCRIPTION = "No description has been provided for this image"   # nbconvert's words for an image's alt

# Building an exporter compiles its templates (a few hundred milliseconds), so
# one serves the process. A batch builds pages in several threads, and an
# export sets a filter on the exporter, so exports take turns.
_rendering = threading.Lock()


def notebook_html(notebook: nbformat.NotebookNode, after: Mapping[int, str]) -> str:
    """The notebook's cells as HTML; `after` maps a cell's index to HTML of the grader's to put after it.

    Raises whatever nbconvert raises on a notebook it cannot render. The notebook itself is not changed.
    """
    results = {f"cell-{index}": html for index, html in after.items()}
    with _rendering:
        body, _ = _exporter().from_notebook_node(notebook, resources={RESULTS_KEY: results})
    return str(body)


@functools.cache
def _exporter() -> _NotebookExporter:
    return _NotebookExporter()


class _ShownCells(Preprocessor):
    """What the page shows of each cell, on the exporter's own copy of the notebook."""

    def preprocess_cell(self, cell: nbformat.NotebookNode, resources: dict[str, Any],
                        index: int) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
        metadata = cell.setdefault("metadata", nbformat.NotebookNode())
        metadata.pop(RESULTS_KEY, None)   # only the grader places results
        if f"cell-{index}" in resources[RESULTS_KEY]:
            metadata[RESULTS_KEY] = f"cell-{index}"
        for output in cell.get("outputs", ()):
            # An output's 'filenames' would point an <img> at a path or URL instead of its data.
            output.get("metadata", {}).pop("filenames", None)
            if "data" in output:
                # Scripts and widgets could not run here anyway: show the output's static form.
                output["data"] = nbformat.NotebookNode(
                    {kind: value for kind, value in output["data"].items() if kind in _STATIC_OUTPUTS})
                images = _IMAGE_OUTPUTS & output["data"].keys()
                if images and not metadata.get("alt") and not any(get_metadata(output, "alt", k) for k in images):
                    output.setdefault("metadata", nbformat.NotebookNode())["alt"] = _NO_DESCRIPTION
        return cell, resources


class _NotebookExporter(HTMLExporter):
    """HTMLExporter with this module's template, sanitizer and caches.

    sanitize_html sends markdown and HTML outputs through _clean_html; embed_images
    stays off, or a markdown image could copy a file of the grading machine into the page.
    """

    def __init__(self) -> None:
        super().__init__(template_name="basic", extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
                         template_file=_TEMPLATE_NAME, sanitize_html=True, embed_images=False,
                         filters={"clean_html": _clean_html}, preprocessors=[_ShownCells],
                         optimistic_validation=True,  # validate once, after the preprocessors, not after each
                         # The page has its own style sheet: no header CSS, nor the user's custom.css, to read.
                         config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}))
        self._markdown = _remembered(self._uncached_markdown)

    def from_notebook_node(self, nb: nbformat.NotebookNode, resources: dict[str, Any] | None = None,
                           **kw: Any) -> tuple[str, dict[str, Any]]:
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name")) or "ipython3"
        self.register_filter("highlight_code", functools.partial(_highlighted_code, lexer))
        # TemplateExporter's export, not HTMLExporter's: that one then parses the whole
        # page again with BeautifulSoup to add alt texts (here _ShownCells gives them)
        # and JupyterLab's tabindexes, which cost more than all the rest of the export.
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    @pass_context
    def markdown2html(self, context: Context, source: str) -> str:
        if context.get("cell", {}).get("attachments"):
            return super().markdown2html(context, source)  # its images are its own
        return self._markdown(source)

    def _uncached_markdown(self, source: str) -> str:
        return super().markdown2html({}, source)


def _remembered(render: Callable[..., str]) -> Callable[..., str]:
    """`render(text, *rest)`, remembered for texts up to LARGEST_CACHED characters."""
    remembered = functools.lru_cache(maxsize=CACHED_CELLS)(render)

    def render_or_recall(text: str, *rest: Any) -> str:
        return (remembered if len(text) <= LARGEST_CACHED else render)(text, *rest)

    return render_or_recall


def _highlighted_code(lexer: str, source: str, language: str | None = None,
                      metadata: Mapping[str, Any] | None = None) -> str:
    """The template's highlight_code filter, for a notebook whose language's lexer is `lexer`."""
    return _highlighted(source, language or lexer, (metadata or {}).get("magics_language"))


@_remembered
def _highlighted(source: str, language: str, magics_language: str | None) -> str:
    metadata = {"magics_language": magics_language} if magics_language else None
    return Highlight2HTML(pygments_lexer=language)(source, metadata=metadata)


def _clean_html(element: str | bytes) -> str:
    """The template's sanitizer, for markdown, HTML outputs and highlighted code."""
    return _cleaned(element.decode() if isinstance(element, bytes) else str(element))


@_remembered
def _cleaned(text: str) -> str:
    return bleach.clean(text, tags=_ALLOWED_TAGS, attributes=_allowed_attribute,
                        protocols={"http", "https", "mailto", "data"}, strip=True, strip_comments=True)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title"):
        return True
    if tag == "a":
        return name == "href" and not value.strip().lower().startswith("data:")
    if tag == "img":
        # Only images carried in the page: anything else would be fetched from somewhere.
        return name == "alt" or (name == "src" and value.strip().lower().startswith("data:image/"))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan")
    return tag == "ol" and name == "start"

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

What is rendered is grader.report.notebook_excerpt's bounded copy of the notebook,
so the page's time and size are bounded whatever the notebook holds, and
every step's cost grows linearly with what it is given: nbconvert's
`strip_files_prefix` (quadratic on a run of '[') is left out, a page that
loads nothing has no use for it; highlighted code is not sanitized again,
since Pygments escapes every character of it; and only Python's lexers
highlight code, so that no notebook can choose a lexer of its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import nbformat
import nh3
from jinja2 import DictLoader, pass_context
from jinja2.runtime import Context
from nbconvert import HTMLExporter, TemplateExporter
from nbconvert.filters import Highlight2HTML
from traitlets.config import Config

from grader.report.notebook_excerpt import excerpt

RESULTS_KEY = "convgrade_results"
CACHED_CELLS = 512         # per cache, least recently used out first: the cells every student shares stay
LARGEST_CACHED = 5_000     # characters: a larger cell or output is rendered each time rather than kept
MAX_PAGE_CHARS = 4_000_000 # the notebook's HTML; the excerpt's budgets keep it far under this
PYTHON_LEXERS = frozenset({"ipython3", "ipython", "ipython2", "python", "python3", "python2", "py", "py3"})

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

# Building an exporter compiles its templates (a few hundred milliseconds), so
# one serves the process. A batch builds pages in several threads, and an
# export sets a filter on the exporter, so exports take turns.
_rendering = threading.Lock()


class PageTooLarge(ValueError):
    """The notebook's HTML came out larger than MAX_PAGE_CHARS."""


def notebook_html(notebook: nbformat.NotebookNode, after: Mapping[int, str]) -> str:
    """The notebook's cells as HTML; `after` maps a cell's index to HTML of the grader's to put after it.

    Huge cells and outputs are cut, saying so (grader.report.notebook_excerpt). Raises
    whatever nbconvert raises on a notebook it cannot render, and PageTooLarge.
    The notebook itself is not changed.
    """
    shown = excerpt(notebook, after)
    for index, cell in enumerate(shown.notebook.cells):
        if index in shown.after:
            cell.metadata[RESULTS_KEY] = f"cell-{index}"
    results = {f"cell-{index}": html for index, html in shown.after.items()}
    with _rendering:
        body, _ = _exporter().from_notebook_node(shown.notebook, resources={RESULTS_KEY: results})
    if len(body) > MAX_PAGE_CHARS:
        raise PageTooLarge(f"its HTML would be {len(body) >> 20} MB, more than this page's {MAX_PAGE_CHARS >> 20} MB")
    return str(body)


@functools.cache
def _exporter() -> _NotebookExporter:
    return _NotebookExporter()


class _NotebookExporter(HTMLExporter):
    """HTMLExporter with this module's template, sanitizer and caches.

    sanitize_html sends markdown and HTML outputs through _clean_html; embed_images
    stays off, or a markdown image could copy a file of the grading machine into the page.
    """

    def __init__(self) -> None:
        super().__init__(template_name="basic", extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
                         template_file=_TEMPLATE_NAME, sanitize_html=True, embed_images=False,
                         filters={"clean_html": _clean_html, "strip_files_prefix": _unchanged},
                         optimistic_validation=True,  # validate once, after the preprocessors, not after each
                         # The page has its own style sheet: no header CSS, nor the user's custom.css, to read.
                         config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}))  # type: ignore[no-untyped-call]  # nbconvert's exporters are unannotated
        self._markdown = _remembered(self._uncached_markdown)

    # A template exporter returns the page's text, whatever its base's annotation says.
    def from_notebook_node(self, nb: nbformat.NotebookNode,  # type: ignore[override]
                           resources: dict[str, Any] | None = None, **kw: Any) -> tuple[str, dict[str, Any]]:
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name")) or "ipython3"
        lexer = lexer if lexer in PYTHON_LEXERS else "ipython3"
        self.register_filter("highlight_code", functools.partial(_highlighted_code, lexer))  # type: ignore[no-untyped-call]  # unannotated in nbconvert
        # TemplateExporter's export, not HTMLExporter's: that one then parses the whole
        # page again with BeautifulSoup to add alt texts (here the excerpt gives them)
        # and JupyterLab's tabindexes, which cost more than all the rest of the export.
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return str(page), resources

    @pass_context
    def markdown2html(self, context: Context, source: str) -> str:
        if context.get("cell", {}).get("attachments"):
            return str(super().markdown2html(context, source))  # its images are its own
        return self._markdown(source)

    def _uncached_markdown(self, source: str) -> str:
        return str(super().markdown2html({}, source))


def _remembered(render: Callable[..., str]) -> Callable[..., str]:
    """`render(text, *rest)`, remembered for texts up to LARGEST_CACHED characters."""
    remembered = functools.lru_cache(maxsize=CACHED_CELLS)(render)

    def render_or_recall(text: str, *rest: Any) -> str:
        return (remembered if len(text) <= LARGEST_CACHED else render)(text, *rest)

    return render_or_recall


class _Highlighted(str):
    """HTML from Pygments, which escapes every character of the code: _clean_html passes it as it is."""


def _highlighted_code(lexer: str, source: str, language: str | None = None,
                      metadata: Mapping[str, Any] | None = None) -> str:
    """The template's highlight_code filter, for a notebook whose language's lexer is `lexer`."""
    return _Highlighted(_highlighted(source, language or lexer, (metadata or {}).get("magics_language")))


@_remembered
def _highlighted(source: str, language: str, magics_language: str | None) -> str:
    metadata = {"magics_language": magics_language} if magics_language else None
    return str(Highlight2HTML(pygments_lexer=language)(source, metadata=metadata))


def _clean_html(element: str | bytes) -> str:
    """The template's sanitizer, for markdown and HTML outputs (highlighted code is safe as it is)."""
    if isinstance(element, _Highlighted):
        # Sanitizing it again would cost more than highlighting it: up to 25 times the code's size.
        return str(element)
    return _cleaned(element.decode() if isinstance(element, bytes) else str(element))


@_remembered
def _cleaned(text: str) -> str:
    return _sanitizer().clean(text)


@functools.cache
def _sanitizer() -> nh3.Cleaner:
    # Ammonia (nh3) rather than bleach: bleach's cost grows with the square of a
    # fragment's sibling elements (2,500 markdown headings: 1.6 s); ammonia's is linear.
    return nh3.Cleaner(
        tags=set(_ALLOWED_TAGS), clean_content_tags={"script", "style"},
        attributes={"*": {"class", "id", "title"}, "a": {"href"}, "img": {"alt", "src"},
                    "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "ol": {"start"}},
        attribute_filter=_allowed_value, url_schemes={"http", "https", "mailto", "data"},
        strip_comments=True, link_rel=None)


def _unchanged(text: str) -> str:
    return text


def _allowed_value(tag: str, name: str, value: str) -> str | None:
    if tag == "a" and name == "href" and value.strip().lower().startswith("data:"):
        return None
    if tag == "img" and name == "src" and not value.strip().lower().startswith("data:image/"):
        return None   # only images carried in the page: anything else would be fetched from somewhere
    return value

"""The notebook's HTML: each notebook its own, though cells are rendered once per process.

What the HTML may keep (no scripts, no remote images) is checked on whole
pages in test_feedback.py.
"""

from __future__ import annotations

import base64
import copy
import re
import time

import nbformat
import pytest

from grader.report.notebook_excerpt import NOTICE_CLASS, SHOWN_CELLS, SHOWN_IMAGE_CHARS
from grader.report.notebook_html import RESULTS_KEY, notebook_html

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
OTHER_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x01" * 16).decode()


def test_a_markdown_cell_shows_its_own_attachment_whatever_another_notebook_attached() -> None:
    source = "My plot: ![plot](attachment:plot.png)"
    pages = [notebook_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        source, attachments={"plot.png": {"image/png": data}})]), {}) for data in (PNG, OTHER_PNG)]
    assert f"data:image/png;base64,{PNG}" in pages[0] and OTHER_PNG not in pages[0]
    assert f"data:image/png;base64,{OTHER_PNG}" in pages[1] and PNG not in pages[1]


def test_the_same_code_is_highlighted_in_each_notebook_s_own_language() -> None:
    def page(lexer: str) -> str:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%time x = 1")])
        notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": lexer}
        return notebook_html(notebook, {})

    assert "hl-ipython3" in page("ipython3") and "hl-ipython3" not in page("python")
    assert "hl-python" in page("python")


def test_the_grader_s_html_follows_its_cell_and_the_notebook_is_left_as_it_was() -> None:
    cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("# Between"),
             nbformat.v4.new_code_cell("b = 2", outputs=[
                 nbformat.v4.new_output("display_data", data={"image/png": PNG, "application/javascript": "x()"})])]
    cells[1].metadata[RESULTS_KEY] = "cell-0"   # a notebook's own marker places nothing
    notebook = nbformat.v4.new_notebook(cells=cells)
    before = copy.deepcopy(notebook)
    page = notebook_html(notebook, {0: '<p id="placed">results</p>'})
    assert page.count('id="placed"') == 1
    first, between, last = (page.index(f'id="cell-id={cell.id}"') for cell in cells)
    assert first < page.index('id="placed"') < between < last
    assert 'alt="No description has been provided for this image"' in page  # as nbconvert describes it
    assert notebook == before


def test_an_output_image_keeps_its_own_description() -> None:
    output = nbformat.v4.new_output("display_data", data={"image/png": PNG},
                                    metadata={"image/png": {"alt": "the loss falls"}})
    page = notebook_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[output])]),
                         {})
    assert 'alt="the loss falls"' in page and "No description" not in page


# ------------------------------------------------------------------ hostile notebooks: the excerpt the page shows

def test_a_huge_cell_is_cut_saying_so_and_its_output_too() -> None:
    cell = nbformat.v4.new_code_cell("x = [a, b]\n" * 100_000, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="loss 0.1\n" * 200_000)])
    page = notebook_html(nbformat.v4.new_notebook(cells=[cell]), {0: '<p id="placed">results</p>'})
    assert f'<p class="{NOTICE_CLASS}">cell truncated: 1.0 MB, first 10 KB shown</p>' in page
    assert "[output truncated: 1.7 MB, first 10 KB shown]" in page
    assert page.index("cell truncated") < page.index('id="placed"')
    assert len(page) < 500_000


def test_cells_past_the_page_s_budget_are_left_out_but_their_results_are_not() -> None:
    cells = [nbformat.v4.new_markdown_cell(f"# part {n}\n" + "words " * 3000) for n in range(SHOWN_CELLS + 50)]
    cells.append(nbformat.v4.new_code_cell("def corr2d(X, K):\n    return X"))
    page = notebook_html(nbformat.v4.new_notebook(cells=cells), {len(cells) - 1: '<p id="placed">results</p>'})
    assert "part 0" in page and f"part {SHOWN_CELLS + 49}" not in page
    assert re.search(r"\d+ more cells not shown: this page shows at most 500 cells and 62 KB of text", page)
    assert page.count('id="placed"') == 1 and page.index("more cells not shown") < page.index('id="placed"')


def test_images_past_the_page_s_budget_are_named_not_shown() -> None:
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(SHOWN_IMAGE_CHARS)).decode()
    cells = [nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": PNG}),
        nbformat.v4.new_output("display_data", data={"image/png": big})])]
    page = notebook_html(nbformat.v4.new_notebook(cells=cells), {})
    assert f"data:image/png;base64,{PNG}" in page and big[:1000] not in page
    assert "[image not shown: 2.5 MB; this page shows at most 1.9 MB of images]" in page


def test_code_is_escaped_though_not_sanitized_again_and_only_python_lexers_highlight() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "s = '<script>alert(1)</script><img src=x onerror=alert(2)>'")])
    notebook.metadata["language_info"] = {"name": "html", "pygments_lexer": "html"}
    page = notebook_html(notebook, {})
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "hl-ipython3" in page and "hl-html" not in page


@pytest.mark.slow
def test_markdown_that_slowed_the_old_renderer_renders_fast() -> None:
    """Runs of '[' (nbconvert's strip_files_prefix: quadratic) and thousands of headings (bleach: quadratic)."""
    cells = [nbformat.v4.new_markdown_cell(f"{n}" + pattern * 100_000)
             for n, pattern in enumerate(("[", "# ab\n", "|a|b|\n|-|-|\n"))]
    started = time.perf_counter()
    notebook_html(nbformat.v4.new_notebook(cells=cells), {})
    assert time.perf_counter() - started < 10.0   # 0.3 s on the development machine; 2.5 s and more before

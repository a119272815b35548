"""The notebook's HTML: each notebook its own, though cells are rendered once per process.

What the HTML may keep (no scripts, no remote images) is checked on whole
pages in test_feedback.py.
"""

from __future__ import annotations

import base64
import copy

import nbformat

from grader.notebook_html import RESULTS_KEY, notebook_html

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

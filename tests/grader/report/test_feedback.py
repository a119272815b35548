"""The feedback page: the student's notebook with each graded function's results beside it.

What it must never show is checked on the source of the page and, where
Chromium is installed, on the page as a browser builds it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import time
from pathlib import Path

import matplotlib
import nbformat
import pytest
import torch
from PIL import Image

from grader.authoring.comparison import Comparison
from grader.host.paths import PROJECT_ROOT
from grader.records import GradeResult
from grader.records import (
    TestScore as ScoredTest,  # aliased: pytest would try to collect Test*
)
from grader.report.feedback import feedback_page, read_notebook
from grader.report.formats import gradescope
from grader.report.heatmaps import OUTLINE_COLOR, VALUES_COLORMAP
from grader.report.page import CONTENT_SECURITY_POLICY
from grader.session import Grader
from tests.browser import (
    PNG_SIGNATURE,
    dump_dom,
    images_loaded,
    screenshot,
)
from tests.helpers import FAST, SOLVED_CORR2D, TESTS_SECRET, ZEROS_CORR2D, Elements, MakeNotebook

TOY_HIDDEN_TESTS = Path(__file__).parents[1] / "assignments" / "toy" / "hidden_tests.py"
EXAMPLE = PROJECT_ROOT / "examples" / "cross_correlation_submission.ipynb"
EXAMPLE_HIDDEN_TESTS = PROJECT_ROOT / "assignments" / "cross_correlation" / "hidden_tests.py"
# A wrong `scale` that prints what it is given and puts it in a shell command: the
# hidden test's input lands in the student's output and in a note of the call,
# both of which must stay with the instructors.
PRINTING_WRONG_SCALE = ("def scale(x):\n    print('SCALE-INPUT', x.tolist())\n"
                        "    get_ipython().system(f'echo SCALE-SHELL {x.tolist()}')\n    return x")
EDGE_LABEL = "corr2d(X, [[1, -1]]) for the lecture's 6x8 edge image"


# ------------------------------------------------------------------ helpers

def graded_page(make_notebook: MakeNotebook, grader: Grader,
                *cells: str) -> tuple[GradeResult, nbformat.NotebookNode, str]:
    path = make_notebook(*cells, assignment="toy")
    result = grader.grade(path, limits=FAST)
    notebook = read_notebook(path)
    assert notebook is not None
    return result, notebook, feedback_page(result, notebook)


def section(page: str, function: str) -> str:
    """The results block of one function."""
    start = page.index(f'<section class="results" id="results-{function}">')
    return page[start:page.index("</section>", start)]


def cell_position(page: str, notebook: nbformat.NotebookNode, index: int) -> int:
    return page.index(f'id="cell-id={notebook.cells[index].id}"')


def png_images(fragment: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', fragment)]


def colormap_rgb(name: str, position: float) -> tuple[int, int, int]:
    red, green, blue, _ = matplotlib.colormaps[name](position, bytes=True)
    return int(red), int(green), int(blue)


def hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def hidden_source_lines(path: Path, notebook: nbformat.NotebookNode) -> list[str]:
    """The lines of a hidden test file that say something of their own: not imports, blanks or
    bare syntax, and not lines the student happened to write too."""
    own = {line.strip() for cell in notebook.cells for line in str(cell.source).splitlines()}
    lines = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if len(stripped) >= 16 and not stripped.startswith(("import ", "from ", "#", '"""')) and stripped not in own:
            lines.append(stripped)
    assert len(lines) >= 8, f"{path} should have hidden lines to look for"
    return lines


def assert_shows_nothing_hidden(page: str, result: GradeResult, hidden_tests: Path,
                                notebook: nbformat.NotebookNode) -> None:
    """No hidden test's detail, code or (printed) input; its name and hint are fine."""
    readable = html.unescape(page)  # a leak could be escaped, or sit in an attribute or a comment
    hidden = [t for t in result.tests if t.hidden]
    assert hidden and all(t.comparisons == () for t in hidden)
    # A hidden test may fail with the very sentence a public test shows (the example's one-row kernel).
    shown_anyway = {t.feedback for t in result.tests if not t.hidden}
    for test in hidden:
        assert test.name in readable
        if test.feedback:
            assert test.feedback in readable
        if test.detail and test.detail != test.feedback and test.detail not in shown_anyway:
            assert test.detail not in readable
    for line in hidden_source_lines(hidden_tests, notebook):
        assert line not in readable, f"a line of {hidden_tests.name} is on the page: {line}"


# ------------------------------------------------------------------ the toy assignment

@pytest.mark.slow
def test_a_failing_public_test_shows_both_values_and_heatmaps_beside_its_function(make_notebook: MakeNotebook,
                                                                                   grader: Grader) -> None:
    result, notebook, page = graded_page(make_notebook, grader, ZEROS_CORR2D, PRINTING_WRONG_SCALE)
    assert "Score: <strong>20 / 100</strong>" in page
    public = next(t for t in result.tests if t.name == "corr2d_seed_example")
    (compared,) = public.comparisons
    assert compared.verdict == "wrong_values" and compared.expected is not None and compared.actual is not None
    assert torch.equal(compared.expected, torch.tensor([[19.0, 25.0], [37.0, 43.0]], dtype=torch.float64))
    assert torch.equal(compared.actual, torch.zeros(2, 2, dtype=torch.float64))
    # Right after the cell that defines corr2d, before the next one.
    assert cell_position(page, notebook, 0) < page.index('id="results-corr2d"') < cell_position(page, notebook, 1)
    corr2d = section(page, "corr2d")
    assert public.feedback in html.unescape(corr2d)
    assert "[[19., 25.],\n [37., 43.]]" in corr2d and "[[0., 0.],\n [0., 0.]]" in corr2d
    (heatmaps,) = png_images(corr2d)
    assert heatmaps.startswith(PNG_SIGNATURE)
    # Expected (19 to 43), yours (all 0, the bottom of their shared scale) and the difference, every value outlined.
    colors = {color for _, color in Image.open(io.BytesIO(heatmaps)).convert("RGB").getcolors(1 << 16)}
    assert {colormap_rgb(VALUES_COLORMAP, 0.0), colormap_rgb(VALUES_COLORMAP, 1.0), hex_rgb(OUTLINE_COLOR)} <= colors
    assert 'expected and yours: 0 <span class="bar"' in corr2d and "yours - expected: -43 <span" in corr2d
    assert "outside the tolerance" in corr2d and "not a number" not in corr2d


def test_hidden_tests_show_their_name_points_and_hint_and_nothing_else(make_notebook: MakeNotebook,
                                                                       grader: Grader) -> None:
    result, notebook, page = graded_page(make_notebook, grader, ZEROS_CORR2D, PRINTING_WRONG_SCALE)
    assert_shows_nothing_hidden(page, result, TOY_HIDDEN_TESTS, notebook)
    assert "toy-hidden-marker" not in page
    assert "0 / 40 points" in section(page, "corr2d") and "compare each window with the kernel" in page
    printed = re.search(r"SCALE-INPUT \[(.*)\]", result.student_output)
    assert printed is not None, "the hidden test's call to scale printed its input"
    assert any(note.startswith("call to scale: skipped") for note in result.notes), "its shell command is noted"
    assert not any("SCALE-SHELL" in note for note in result.notes), "but not what the command said"
    for value in (float(v) for v in printed[1].split(",")):
        assert repr(value) not in page and f"{value:.4g}" not in page


def test_results_follow_the_last_defining_cell_and_undefined_functions_come_first(make_notebook: MakeNotebook,
                                                                                  grader: Grader) -> None:
    result, notebook, page = graded_page(make_notebook, grader, ZEROS_CORR2D, SOLVED_CORR2D, "y = 1")
    assert result.score == 80.0
    corr2d = page.index('id="results-corr2d"')
    assert cell_position(page, notebook, 1) < corr2d < cell_position(page, notebook, 2)
    assert page.count('id="results-corr2d"') == 1
    top = page.index("Functions not defined in your notebook")
    assert top < page.index('id="results-scale"') < page.index('<section class="notebook">')
    assert "scale_doubles" in section(page, "scale") and "FAIL" in section(page, "scale")


def test_an_unusable_submission_gets_the_reason_and_no_notebook() -> None:
    result = GradeResult(submission=Path("broken.ipynb"), assignment="toy", status="unusable",
                         reason="is truncated (line 1, column 12: Expecting value)", max_score_if_unusable=100.0)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def corr2d(X, K):\n    pass")])
    page = feedback_page(result, notebook)
    assert "Not graded: is truncated (line 1, column 12: Expecting value)" in page
    assert "Score: <strong>0 / 100</strong>" in page
    assert "corr2d" not in page and 'class="cell' not in page


# ------------------------------------------------------------------ what the page may load and run

def test_the_page_is_self_contained_and_keeps_nothing_that_loads_or_runs() -> None:
    """A hostile notebook: external images, scripts, frames, styles, a redirect, a forged image path."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    markdown = ("# Mine\n\n![remote](https://example.com/remote.png)\n\n<script>alert('md')</script>\n"
                '<iframe src="https://example.com/frame"></iframe>'
                '<link rel="stylesheet" href="https://example.com/s.css">'
                '<meta http-equiv="refresh" content="0; url=https://example.com/">'
                '<style>body { background: url(https://example.com/bg.png) }</style>'
                '<a href="javascript:alert(1)">click</a> <a href="https://d2l.ai">the book</a>')
    code = nbformat.v4.new_code_cell("def corr2d(X, K):\n    return X", outputs=[
        nbformat.v4.new_output("display_data", data={
            "text/html": '<img src="https://example.com/out.png"><script>alert("out")</script><b>bold</b>',
            "application/javascript": "alert('js')"}),
        nbformat.v4.new_output("display_data", data={"image/png": png},
                               metadata={"filenames": {"image/png": "https://example.com/forged.png"}}),
    ])
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), code])
    compared = Comparison("corr2d(X, K)", "wrong_values", (2, 2), (2, 2), torch.ones(2, 2, dtype=torch.float64),
                          torch.zeros(2, 2, dtype=torch.float64), 1e-4, 1e-4)
    result = GradeResult(submission=Path("hostile.ipynb"), assignment="toy", status="graded", reason="", tests=(
        ScoredTest("corr2d_seed_example", "corr2d", 0.0, 20.0, False, False, "corr2d(X, K) is wrong", "corr2d(X, K) "
                   "is wrong", comparisons=(compared,)),))
    page = feedback_page(result, notebook)
    elements = Elements(page).found
    tags = [tag for tag, _ in elements]
    assert not {"script", "iframe", "link", "object", "embed", "base", "form"} & set(tags)
    assert [attrs.get("http-equiv") for tag, attrs in elements if tag == "meta" and "http-equiv" in attrs] == [
        "Content-Security-Policy"]
    assert f'content="{CONTENT_SECURITY_POLICY}"' in page
    sources = [attrs["src"] for tag, attrs in elements if "src" in attrs]
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)  # the output, a heatmap
    assert tags.count("style") == 1 and "url(" not in page.split("</style>")[0]
    links = [attrs["href"] for tag, attrs in elements if tag == "a" and "href" in attrs]
    assert "https://d2l.ai" in links and not any(link.lower().startswith("javascript:") for link in links)
    assert "<b>bold</b>" in page and '<h1 id="Mine">' in page  # the notebook's own harmless markup still renders
    assert feedback_page(result, notebook) == page  # nothing random, such as the ids of script outputs


# ------------------------------------------------------------------ hostile notebooks: bounded pages, unparsable cells

PAGE_BOUND = 5 << 20     # bytes
PAGE_SECONDS = 10.0      # generous for a loaded machine: benchmarks/hostile_page.py measures 0.1-1.7 s


@pytest.mark.slow
def test_huge_cells_outputs_and_images_make_a_bounded_page_that_says_what_it_cut() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300).decode()   # 100 KB
    cells = [nbformat.v4.new_markdown_cell("Some *prose* and `code` [a](b)\n" * 30_000),     # 1 MB
             nbformat.v4.new_code_cell("def corr2d(X, K):\n    return X\n" + "x = [a, b, (c + d) * 2]\n" * 40_000,
                                       outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                       text="loss 0.123\n" * 2_000_000)]),
             *(nbformat.v4.new_code_cell(f"plot({n})", outputs=[nbformat.v4.new_output(
                 "display_data", data={"image/png": png, "text/plain": "<Figure>"})] * 20) for n in range(30)),
             *(nbformat.v4.new_markdown_cell(f"# {n}\n" + "# ab\n" * 2_000) for n in range(1_000))]
    result = GradeResult(submission=Path("huge.ipynb"), assignment="toy", status="graded", reason="", tests=(
        ScoredTest("corr2d_seed_example", "corr2d", 0.0, 20.0, False, False, "corr2d(X, K) is wrong", "wrong"),))
    started = time.perf_counter()
    page = feedback_page(result, nbformat.v4.new_notebook(cells=cells))
    assert time.perf_counter() - started < PAGE_SECONDS
    assert len(page.encode()) < PAGE_BOUND
    assert "cell truncated: 908 KB, first 10 KB shown" in page and "cell truncated: 938 KB, first 10 KB shown" in page
    assert "[output truncated: 21.0 MB, first 10 KB shown]" in page
    assert re.search(r"\[image not shown: 100 KB; this page shows at most 1.9 MB of images\]", page)
    assert "more cells not shown" in page
    assert page.count('id="results-corr2d"') == 1 and "could not be shown" not in page


@pytest.mark.slow
def test_cells_that_exhaust_the_parser_are_their_own_errors_and_the_rest_is_graded(make_notebook: MakeNotebook,
                                                                                   grader: Grader,
                                                                                   tmp_path: Path) -> None:
    """A unary chain (the parser's MemoryError), a chain of additions (a RecursionError compiling it) and
    nested brackets, each in a cell of its own: each is that cell's failure, and the page still shows."""
    hostile = ["x = " + "-" * 100_000 + "1", "y = 1" + "+1" * 50_000, "z = " + "(" * 100_000 + "1" + ")" * 100_000,
               "w = " + "[" * 100_000 + "]" * 100_000]
    path = make_notebook(SOLVED_CORR2D, *hostile, "def scale(x):\n    return 2 * x", assignment="toy")
    result = grader.grade(path, limits=FAST)
    assert (result.status, result.score, result.grader_errors) == ("graded", 100.0, ())
    assert next(cell.status for cell in result.cells) == "ok" and result.cells[-1].status == "ok"
    # The parser's MemoryError: out of memory, which a cell meets as it would its timeout.
    assert all(cell.status in ("error", "crashed", "timeout") for cell in result.cells[1:-1]), result.cells
    results = json.loads(json.dumps(gradescope(result), allow_nan=False))
    assert results["score"] == 100.0
    notebook = read_notebook(path)
    assert notebook is not None
    page = feedback_page(result, notebook)
    assert "could not be shown" not in page and "cell truncated: 98 KB, first 10 KB shown" in page


# ------------------------------------------------------------------ the real assignment: the example submission

Example = tuple[GradeResult, nbformat.NotebookNode, Path]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    """The bundled example graded against the project's own assignments, and its page on disk."""
    with Grader(PROJECT_ROOT, secret=TESTS_SECRET) as grader:  # this checkout, a course of its own
        result = grader.grade(EXAMPLE)
    notebook = read_notebook(EXAMPLE)
    assert result.status == "graded" and notebook is not None
    page = tmp_path_factory.mktemp("example") / "feedback.html"
    page.write_text(feedback_page(result, notebook), encoding="utf-8")
    return result, notebook, page


@pytest.mark.slow
def test_the_example_shows_the_edge_detection_beside_corr2d(example: Example) -> None:
    result, notebook, path = example
    page = path.read_text()
    edge = next(t for t in result.tests if t.name == "corr2d_edge_image_and_its_transpose")
    compared = next(c for c in edge.comparisons if c.label == EDGE_LABEL)
    assert compared.matched and compared.expected is not None and compared.expected.shape == (6, 7)
    assert compared.expected[:, 1].eq(1).all() and compared.expected[:, 5].eq(-1).all()
    corr2d = section(page, "corr2d")
    after_label = corr2d[html.unescape(corr2d).index(EDGE_LABEL):]
    heatmaps = png_images(after_label[:after_label.index('<div class="comparison">')])
    assert len(heatmaps) == 1 and heatmaps[0].startswith(PNG_SIGNATURE)
    # The example's bug: a one-row kernel, which the public test explains, after the cell that defines it.
    kernel = section(page, "horizontal_edge_kernel")
    assert "FAIL" in kernel and "has a single row" in html.unescape(kernel)
    defining = max(i for i, cell in enumerate(notebook.cells) if "def horizontal_edge_kernel(" in cell.source)
    assert cell_position(page, notebook, defining) < page.index('id="results-horizontal_edge_kernel"') < (
        cell_position(page, notebook, defining + 1))


@pytest.mark.slow
def test_the_example_shows_nothing_of_its_hidden_tests(example: Example) -> None:
    result, notebook, path = example
    assert any(not t.passed for t in result.tests if t.hidden)
    assert_shows_nothing_hidden(path.read_text(), result, EXAMPLE_HIDDEN_TESTS, notebook)


# ------------------------------------------------------------------ as a person sees it

@pytest.mark.browser
def test_in_a_browser_the_example_renders_its_images_load_and_nothing_hidden_is_there(
        example: Example, tmp_path: Path) -> None:
    result, notebook, page = example
    dom = dump_dom(page)
    assert "Feedback on cross_correlation_submission.ipynb" in dom
    assert f"Score: <strong>{result.score:g} / 100</strong>" in dom
    assert "horizontal_edge_kernel_on_transposed_edge_image" in dom and "Tests of corr2d" in dom
    assert_shows_nothing_hidden(dom, result, EXAMPLE_HIDDEN_TESTS, notebook)
    loaded, images = images_loaded(page, tmp_path)
    assert images >= 3 and loaded == images
    assert screenshot(page, tmp_path / "example.png") == (1200, 3000)
    assert (tmp_path / "example.png").stat().st_size > 20_000  # a page, not a blank


@pytest.mark.browser
def test_in_a_browser_a_wrong_toy_submission_shows_no_hidden_input(make_notebook: MakeNotebook, grader: Grader,
                                                                   tmp_path: Path) -> None:
    result, notebook, page = graded_page(make_notebook, grader, ZEROS_CORR2D, PRINTING_WRONG_SCALE)
    path = tmp_path / "feedback.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(path)
    assert "Tests of scale" in dom and "scale(x) doubles every value" in dom
    assert_shows_nothing_hidden(dom, result, TOY_HIDDEN_TESTS, notebook)
    assert "toy-hidden-marker" not in dom and "SCALE-INPUT [" not in dom and "SCALE-SHELL [" not in dom
    assert images_loaded(path, tmp_path) == (1, 1)

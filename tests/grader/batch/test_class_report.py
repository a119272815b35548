"""The class report: unit tests over synthetic gradebook rows, then `grade report` on a graded batch,
then, where Chromium is installed, the page as a browser builds it."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from grader.batch.class_report import MAX_CHARTED_TESTS, class_report
from grader.batch.exports import summary
from grader.batch.gradebook import FILE_NAME, Gradebook, SubmissionRow
from grader.batch.progress import PlainProgress
from grader.batch.run import grade_batch
from grader.batch.tasks import BatchOptions
from grader.cli import main
from grader.errors import ExitCode
from grader.records import TestScore
from grader.report.page import CONTENT_SECURITY_POLICY
from grader.session import Grader
from tests.browser import (
    PNG_SIGNATURE,
    dump_dom,
    images_loaded,
    screenshot,
)
from tests.grader.assignments.toy.hidden_tests import HIDDEN_MARKER
from tests.helpers import CRASHES, SCALE, SOLVED_CORR2D, ZEROS_CORR2D, Elements, MakeNotebook, make_row

HOSTILE = "<script>alert('owned')</script>"
HOSTILE_REASON = '<img src="https://example.com/x.png" onerror="alert(1)"> is truncated'
SECRET_DETAIL = "expected tensor([[1.25, 7.5]]) for the hidden input"


def two_tests(rarely: bool, usually: bool, *, rarely_error: bool = False) -> tuple[...]:
    """Two tests: a hidden one that few pass, a public one that most pass."""
    return (TestScore(name="rarely_passed_hidden_law", function="corr2d", score=6.0 * rarely, max_score=6.0,
                      passed=rarely, hidden=True, feedback="mind the edges", detail=SECRET_DETAIL,
                      grader_error=rarely_error),
            TestScore(name="usually_passed_public_example", function="scale", score=4.0 * usually, max_score=4.0,
                      passed=usually, hidden=False, feedback="", detail="why"))


def graded(student: str, rarely: bool, usually: bool, **changes: object) -> SubmissionRow:
    score = 6.0 * rarely + 4.0 * usually
    return make_row(student, score=score, tests=two_tests(rarely, usually), **{"library_convolutions": {}, **changes})


ROWS = (
    graded("alice", True, True, seconds=2.0),
    graded("bob", False, True, timeouts=3, seconds=9.5),
    graded("carol", False, False, crashes=1, seconds=1.0),
    graded(HOSTILE, False, True, library_convolutions={"corr2d": ["aten.convolution"]}, seconds=3.0),
    make_row("dave", score=0.0, status="unusable", reason=HOSTILE_REASON, tests=(), library_convolutions={},
             seconds=0.1),
    dataclasses.replace(graded("erin", False, True, seconds=4.0), tests=two_tests(False, True, rarely_error=True),
                        grader_errors=(f"rarely_passed_hidden_law: {SECRET_DETAIL}",)),
)


def images(page: str) -> dict[str, bytes]:
    """alt text -> the PNG of each image on the page."""
    found = {}
    for tag, attrs in Elements(page).found:
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:60]
            found[attrs["alt"]] = base64.b64decode(attrs["src"].removeprefix("data:image/png;base64,"))
    return found


def section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<h3 ", start + 1)
    return page[start:end if end >= 0 else page.index("</section>", start)]


@pytest.mark.slow
def test_the_scores_pass_rates_and_times_are_png_data_uris() -> None:
    pictures = images(class_report(ROWS))
    assert len(pictures) == 3 and all(png.startswith(PNG_SIGNATURE) for png in pictures.values())
    histogram = next(alt for alt in pictures if alt.startswith("Score histogram"))
    counts = summary(ROWS)["score_percent"]["histogram"]["counts"]
    # alice 100 %, the hostile one, bob and erin 40 %, carol and dave 0 %: the same bands as summary.json
    assert counts == [2, 0, 0, 0, 3, 0, 0, 0, 0, 1]
    bands = zip(range(0, 100, 10), counts, strict=False)
    assert histogram.endswith(", ".join(f"{low}-{low + 10} %: {n}" for low, n in bands))
    assert any(alt.startswith("Pass rate per test, worst first: rarely_passed_hidden_law 20 %") for alt in pictures)
    assert any(alt.startswith("Histogram of seconds per submission: mean 3.3 s, median 2.5 s, max 9.5 s")
               for alt in pictures)


def test_tests_are_listed_worst_first_with_their_pass_rates_and_kind() -> None:
    page = class_report(ROWS)
    table = page[page.index('<table class="tests">'):]
    table = table[:table.index("</table>")]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in table.split("<tr>")[2:]]
    assert table.count('<td class="hidden">hidden</td>') == 1
    assert cells == [["toy", "rarely_passed_hidden_law", "corr2d", "hidden", "6", "20 %", "1/5"],
                     ["toy", "usually_passed_public_example", "scale", "public", "4", "80 %", "4/5"]]


def test_the_submissions_to_look_at_are_listed_by_what_happened() -> None:
    page = class_report(ROWS)
    assert "<td>bob</td><td>3</td><td>4 / 10</td>" in section(page, "timed-out")
    assert "<td>carol</td><td>1</td><td>0 / 10</td>" in section(page, "crashed")
    assert (f"<td>{html.escape(HOSTILE)}</td><td>corr2d</td><td>corr2d: aten.convolution</td>"
            in section(page, "library-convolution"))
    assert f"<td>dave</td><td>{html.escape(HOSTILE_REASON)}</td>" in section(page, "unusable")
    errors = section(page, "grader-errors")
    assert "<td>erin</td>" in errors and "rarely_passed_hidden_law: a hidden test" in errors
    for anchor in ("timed-out", "crashed", "library-convolution", "unusable", "grader-errors"):
        assert section(page, anchor).count("<tr>") == 2  # the header, and the one submission


@pytest.mark.slow
def test_submissions_collected_with_a_warning_are_listed_escaped() -> None:
    warning = "2 notebooks were found for '<b>alice</b>': a/hw.ipynb; b/hw.ipynb; each is graded under its own key"
    rows = ROWS + (graded("<b>alice</b>/a/hw.ipynb", True, True, warnings=(warning,)),)
    listed = section(class_report(rows), "collection-warnings")
    assert listed.count("<tr>") == 2 and f"<td>{html.escape(warning)}</td>" in listed
    assert "<b>" not in listed
    assert '<p class="none">none</p>' in section(class_report(ROWS), "collection-warnings")


@pytest.mark.slow
def test_a_hidden_tests_detail_never_reaches_the_page() -> None:
    page = class_report(ROWS)
    assert "rarely_passed_hidden_law" in page
    assert SECRET_DETAIL not in html.unescape(page) and "1.25" not in page


@pytest.mark.slow
def test_every_string_from_the_gradebook_is_escaped() -> None:
    page = class_report(ROWS)
    elements = Elements(page).found
    assert "script" not in {tag for tag, _ in elements}
    assert [tag for tag, _ in elements].count("img") == 3
    assert not any("onerror" in attrs for _, attrs in elements)
    assert html.escape(HOSTILE) in page and HOSTILE not in page


@pytest.mark.slow
def test_the_page_loads_nothing_from_outside_and_runs_nothing() -> None:
    page = class_report(ROWS)
    # The unusable reason names an https URL, escaped as text; nothing on the page may refer to one.
    outside = page.replace(html.escape(HOSTILE_REASON), "")
    assert "http://" not in outside and "https://" not in outside
    elements = Elements(page).found
    assert not {"script", "link", "iframe", "object", "embed", "base", "form"} & {tag for tag, _ in elements}
    assert [attrs["content"] for tag, attrs in elements if attrs.get("http-equiv") == "Content-Security-Policy"] == [
        CONTENT_SECURITY_POLICY]
    assert "url(" not in page and "@import" not in page
    assert all(attrs["src"].startswith("data:image/png;base64,") for _, attrs in elements if "src" in attrs)


def test_an_empty_gradebook_gives_a_page_that_says_so() -> None:
    page = class_report(())
    assert "No submissions in this gradebook" in page and "<img" not in page
    assert "<dt>submissions</dt><dd>0</dd>" in page


def test_only_unusable_submissions_give_no_pass_rates_but_still_a_page() -> None:
    page = class_report((ROWS[4],))
    assert "No graded submissions, so no pass rates." in page and len(images(page)) == 2


@pytest.mark.slow
def test_the_same_rows_always_make_the_same_page() -> None:
    assert class_report(ROWS) == class_report(ROWS)  # the charts too: no timestamps or version stamps


@pytest.mark.slow
def test_many_tests_chart_the_worst_and_list_them_all_and_tex_in_names_is_plain_text() -> None:
    # An unbalanced `\frac` would make matplotlib's mathtext raise, were names parsed as TeX.
    many = tuple(TestScore(name=f"law_{i:03d}_$\\frac$", function="corr2d", score=float(i < 30), max_score=1.0,
                           passed=i < 30, hidden=i % 2 == 0, feedback="", detail="")
                 for i in range(60))
    page = class_report((make_row("alice", score=30.0, tests=many),))
    assert f"The chart shows the {MAX_CHARTED_TESTS} worst of 60 tests" in page
    assert page.count('<td class="name">law_') == 60 and page.index(">law_030_") < page.index(">law_000_")


# ------------------------------------------------------------------ grade report, on a graded batch

@pytest.fixture
def graded_class(make_notebook: MakeNotebook, tmp_path: Path, grader: Grader, toy_assignments: Path) -> Path:
    """A toy class graded by grade batch: solved, wrong, crashes (by a student with a hostile name), truncated."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, cells in {"solved": (SOLVED_CORR2D, SCALE), "wrong": (ZEROS_CORR2D, SCALE),
                           "<script>": (SOLVED_CORR2D, CRASHES, SCALE)}.items():
        shutil.move(make_notebook(*cells, assignment="toy"), folder / f"{student}.ipynb")
    (folder / "truncated.ipynb").write_text('{"cells": [')
    out = tmp_path / "out"
    grade_batch([folder], out, BatchOptions(jobs=2, call_timeout=2.0), PlainProgress(io.StringIO()), grader)
    return out


@pytest.mark.slow
def test_grade_report_writes_the_page_and_a_summary_that_agree(
        graded_class: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (graded_class / "summary.json").unlink()
    assert main(["report", str(graded_class)]) == ExitCode.GRADED
    page_path = graded_class / "report.html"
    assert capsys.readouterr().out.splitlines() == [f"wrote {page_path}", f"wrote {graded_class / 'summary.json'}"]
    with Gradebook(graded_class / FILE_NAME) as book:
        rows = book.current_rows()
    written = json.loads((graded_class / "summary.json").read_text())
    assert written == summary(rows)
    assert (written["submissions"], written["graded"], written["unusable"]) == (4, 3, 1)
    page = page_path.read_text(encoding="utf-8")
    assert page == class_report(rows)
    assert "<dt>submissions</dt><dd>4</dd>" in page and "<dt>unusable</dt><dd>1</dd>" in page
    assert f"<dt>mean score</dt><dd>{written['score_percent']['mean']:.1f} %</dd>" in page
    assert len(images(page)) == 3
    test_names = [t["name"] for t in written["tests"]]
    assert {"corr2d_matches_reference", "scale_doubles", "corr2d_seed_example"} <= set(test_names)
    positions = [page.index(f'<td class="name">{name}</td>') for name in test_names]
    assert positions == sorted(positions)  # worst first, as in summary.json
    assert "<td>&lt;script&gt;</td><td>1</td><td>100 / 100</td>" in section(page, "crashed")
    assert "<script>" not in page
    assert "<td>truncated</td>" in section(page, "unusable")
    assert HIDDEN_MARKER not in page

    elsewhere = tmp_path / "pages" / "class.html"
    assert main(["report", str(graded_class), "--out", str(elsewhere)]) == ExitCode.GRADED
    assert elsewhere.read_text(encoding="utf-8") == page


def test_grade_report_on_a_folder_without_a_gradebook_is_a_one_line_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err == f"grade: {tmp_path} has no gradebook: run grade batch PATH... --out {tmp_path} first\n"
    assert list(tmp_path.iterdir()) == []


def test_grade_report_replaces_links_planted_at_its_outputs_and_never_follows_them(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's own")
    victim.chmod(0o600)
    out = tmp_path / "out"
    Gradebook(out / FILE_NAME).close()
    for name in ("report.html", "summary.json"):
        (out / name).symlink_to(victim)
    assert main(["report", str(out)]) == ExitCode.GRADED
    assert victim.read_text() == "root's own" and victim.stat().st_mode & 0o777 == 0o600
    assert not (out / "report.html").is_symlink() and not (out / "summary.json").is_symlink()
    assert "No submissions in this gradebook" in (out / "report.html").read_text(encoding="utf-8")


def test_grade_report_on_an_empty_gradebook_writes_a_page_saying_so(tmp_path: Path) -> None:
    Gradebook(tmp_path / FILE_NAME).close()
    assert main(["report", str(tmp_path)]) == ExitCode.GRADED
    assert "No submissions in this gradebook" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "summary.json").read_text())["submissions"] == 0


@pytest.mark.browser
def test_in_a_browser_the_report_renders_and_its_images_load(graded_class: Path, tmp_path: Path) -> None:
    assert main(["report", str(graded_class)]) == ExitCode.GRADED
    page = graded_class / "report.html"
    dom = dump_dom(page)
    assert "Class report" in dom and "Tests, worst first" in dom and "corr2d_matches_reference" in dom
    assert "<td>&lt;script&gt;</td>" in dom and HIDDEN_MARKER not in dom
    assert images_loaded(page, tmp_path) == (3, 3)
    assert screenshot(page, tmp_path / "report.png") == (1200, 3000)
    assert (tmp_path / "report.png").stat().st_size > 20_000  # a page, not a blank

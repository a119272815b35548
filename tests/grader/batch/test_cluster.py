from __future__ import annotations

import dataclasses
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from grader.batch.cluster import checked
from grader.batch.progress import PlainProgress
from grader.batch.run import grade_batch
from grader.batch.tasks import BatchOptions
from grader.records import GraderFailure
from grader.session import Grader
from tests.helpers import SCALE, SOLVED_CORR2D, ZEROS_CORR2D, MakeNotebook

pytestmark = pytest.mark.slow  # a Dask cluster of its own, and batches on it


@pytest.fixture(scope="module")
def cluster(toy_assignments: Path) -> Iterator[str]:
    """A Dask cluster on loopback: one worker process, two threads, as a course's machine would run."""
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None, protocol="tcp") as local:
        yield local.scheduler_address


def test_a_batch_on_a_dask_cluster_scores_as_the_local_pool_does(
        cluster: str, make_notebook: MakeNotebook, tmp_path: Path, grader: Grader, toy_assignments: Path) -> None:
    assert cluster.startswith("tcp://127.0.0.1:")
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, cells in {"solved": (SOLVED_CORR2D, SCALE), "wrong": (ZEROS_CORR2D, SCALE)}.items():
        shutil.move(make_notebook(*cells, assignment="toy"), folder / f"{student}.ipynb")
    (folder / "broken.ipynb").write_text("not json")
    quiet = PlainProgress(io.StringIO())
    with Grader(grader.course, secret=grader.secret, workers=False) as dispatcher:  # grades nowhere itself
        remote = grade_batch([folder], tmp_path / "remote", BatchOptions(jobs=2, scheduler=cluster), quiet, dispatcher)
        again = grade_batch([folder], tmp_path / "remote", BatchOptions(jobs=2, scheduler=cluster), quiet, dispatcher)
    local = grade_batch([folder], tmp_path / "local", BatchOptions(jobs=2), quiet, grader)
    assert {r.student: r.score for r in remote.rows} == {"solved": 100.0, "wrong": 40.0, "broken": 0.0}
    for theirs, ours in zip(remote.rows, local.rows, strict=False):
        assert [(t.name, t.score, t.detail) for t in theirs.tests] == [(t.name, t.score, t.detail) for t in ours.tests]
    assert (tmp_path / "remote" / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    assert again.graded == () and len(again.unchanged) == 3


def test_a_result_graded_by_other_tests_than_ours_is_refused(
        make_notebook: MakeNotebook, grader: Grader, toy_assignments: Path) -> None:
    result = grader.grade(make_notebook(SOLVED_CORR2D, SCALE, assignment="toy"))
    assert checked(result) is result
    elsewhere = dataclasses.replace(result, assignment_digest="0123456789abcdef")
    refused = checked(elsewhere)
    assert isinstance(refused, GraderFailure) and "differs from this machine's" in refused.reason

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.batch.gradebook import Gradebook, rows_by_student
from grader.errors import UsageError
from tests.helpers import make_row


def test_a_recorded_row_reads_back_whole(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "book.sqlite") as book:
        run = book.start_run("0.1", {"jobs": 2})
        assert book.record(run, make_row()) is None
        (row,) = book.current_rows()
    assert dataclasses.replace(row, id=0, run_id=0) == make_row()
    assert row.run_id == run


def test_a_regrade_keeps_the_previous_row_for_comparison(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "book.sqlite") as book:
        first = book.start_run("0.1", {})
        book.record(first, make_row(score=7.0))
        second = book.start_run("0.1", {})
        previous = book.record(second, make_row(score=10.0))
        assert previous is not None and previous.score == 7.0
        assert [r.score for r in book.current_rows()] == [10.0]
        assert [r.score for r in book.history("alice")] == [7.0, 10.0]
        current = book.current("alice")
        assert current is not None and current.score == 10.0


@pytest.mark.slow
def test_a_commit_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite"
    script = textwrap.dedent(f"""
        import os, signal
        from tests.helpers import make_row
        from grader.batch.gradebook import Gradebook
        from pathlib import Path
        book = Gradebook(Path({str(path)!r}))
        run = book.start_run("0.1", {{}})
        book.record(run, make_row("alice"))
        book.record(run, make_row("bob"))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == -signal.SIGKILL
    with Gradebook(path) as book:
        assert [r.student for r in book.current_rows()] == ["alice", "bob"]


def test_a_file_that_is_not_a_gradebook_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(UsageError, match="not a gradebook"):
        Gradebook(path)


def test_a_group_submission_counts_for_each_member() -> None:
    group = make_row("200+201", members=("200", "201"))
    assert [(student, row.student) for student, row in rows_by_student([make_row(), group])] == [
        ("alice", "alice"), ("200", "200+201"), ("201", "200+201")]


def test_collection_warnings_are_kept_and_can_be_updated_without_grading_again(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "book.sqlite") as book:
        run = book.start_run("0.1", {})
        book.record(run, make_row(warnings=("2 notebooks were found for 'alice'",)))
        assert book.current_rows()[0].warnings == ("2 notebooks were found for 'alice'",)
        book.note_warnings("alice", ())
        assert book.current_rows()[0].warnings == ()


def test_a_gradebook_of_an_earlier_version_gains_the_warnings_column(tmp_path: Path) -> None:
    path = tmp_path / "book.sqlite"
    with Gradebook(path) as book:
        book.record(book.start_run("0.1", {}), make_row())
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE submissions DROP COLUMN warnings")
    with Gradebook(path) as book:
        (row,) = book.current_rows()
        assert row.warnings == () and row.score == 7.0
        book.record(book.start_run("0.1", {}), make_row("bob", warnings=("w",)))
        assert [r.warnings for r in book.current_rows()] == [(), ("w",)]


@pytest.mark.parametrize("companion", ["", "-wal", "-shm", "-journal"])
def test_a_gradebook_file_that_is_a_link_is_refused_never_written_through(tmp_path: Path, companion: str) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's own")
    (tmp_path / f"book.sqlite{companion}").symlink_to(victim)
    with pytest.raises(UsageError, match="is a symbolic link"):
        Gradebook(tmp_path / "book.sqlite")
    assert victim.read_bytes() == b"root's own"


def test_a_rows_page_data_is_kept_beside_it_and_read_one_at_a_time(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "book.sqlite") as book:
        run = book.start_run("0.1", {})
        book.record(run, make_row(), page='{"notes": ["first"]}')
        book.record(run, make_row("bob"))
        alice, bob = book.current_rows()
        assert (book.page(alice.id), book.page(bob.id)) == ('{"notes": ["first"]}', "")
        book.keep_page(alice.id, '{"notes": ["again"]}')
        book.keep_page(bob.id, '{"notes": []}')
        assert (book.page(alice.id), book.page(bob.id)) == ('{"notes": ["again"]}', '{"notes": []}')
        assert len(book.history("alice")) == 1

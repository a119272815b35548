from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader.collect import collect
from grader.errors import UsageError

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def write(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(NOTEBOOK + name.encode())  # distinct contents
    return root


def keys(found: tuple) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.student: f.lms_id for f in found}


def test_a_folder_per_student_names_each_by_its_folder(tmp_path: Path) -> None:
    write(tmp_path, "alice/hw.ipynb", "bob/deep/er/hw.ipynb", "carol.ipynb")
    assert keys(collect([tmp_path])) == {"alice": "", "bob": "", "carol": ""}


def test_a_single_notebook_is_named_by_its_stem(tmp_path: Path) -> None:
    (found,) = collect([write(tmp_path, "dave.ipynb") / "dave.ipynb"])
    assert (found.student, found.source, found.file_name) == ("dave", str(tmp_path / "dave.ipynb"), "dave.ipynb")
    assert found.content.startswith(NOTEBOOK) and len(found.content_hash) == 64


def test_a_canvas_zip_names_students_by_canvas_file_names(tmp_path: Path) -> None:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("lastfirst_12345_67890_corr2d.ipynb", NOTEBOOK)
        z.writestr("doejane_late_222_333_cross_correlation-1.ipynb", NOTEBOOK + b" ")
    found = collect([archive])
    assert keys(found) == {"lastfirst": "12345", "doejane": "222"}
    assert {f.source for f in found} == {f"{archive}!lastfirst_12345_67890_corr2d.ipynb",
                                         f"{archive}!doejane_late_222_333_cross_correlation-1.ipynb"}


def test_a_moodle_zip_names_students_by_their_submission_folders_or_prefixes(tmp_path: Path) -> None:
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Jane Doe_4321_assignsubmission_file_/corr2d.ipynb", NOTEBOOK)
        z.writestr("Li Wei_987_assignsubmission_file_hw.ipynb", NOTEBOOK + b" ")
    assert keys(collect([archive])) == {"Jane Doe": "4321", "Li Wei": "987"}


def test_a_gradescope_export_names_submitters_from_its_metadata(tmp_path: Path) -> None:
    export = write(tmp_path / "export", "submission_101/corr2d.ipynb", "submission_102/corr2d.ipynb",
                   "submission_103/corr2d.ipynb")
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Solo Student\n    :sid: '100'\n    :email: solo@u.edu\n"
        "submission_102:\n  :submitters:\n  - :name: Pair One\n    :sid: '200'\n  - :name: Pair Two\n    :sid: '201'\n"
        "submission_103:\n  :submitters:\n  - :name: No Id\n    :email: noid@u.edu\n")
    found = {f.student: f for f in collect([export])}
    assert set(found) == {"100", "200+201", "noid@u.edu"}
    assert found["200+201"].members == ("200", "201") and found["100"].members == ()
    assert found["100"].lms_id == "101"


def test_checkpoints_hidden_files_macos_litter_and_other_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "alice/hw.ipynb", "alice/.ipynb_checkpoints/hw-checkpoint.ipynb", "__MACOSX/alice/._hw.ipynb",
          ".hidden.ipynb")
    (tmp_path / "notes.txt").write_text("not a notebook")
    assert keys(collect([tmp_path])) == {"alice": ""}


def test_zip_members_that_climb_out_of_the_archive_are_skipped(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escape.ipynb", NOTEBOOK)
        z.writestr("/abs.ipynb", NOTEBOOK)
        z.writestr("fine.ipynb", NOTEBOOK)
    assert keys(collect([archive])) == {"fine": ""}


def test_a_student_with_several_notebooks_gets_one_entry_each(tmp_path: Path) -> None:
    write(tmp_path, "alice/part1.ipynb", "alice/part2.ipynb", "bob/hw.ipynb")
    assert sorted(keys(collect([tmp_path]))) == ["alice/part1.ipynb", "alice/part2.ipynb", "bob"]


def test_nothing_to_grade_or_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no notebooks"):
        collect([tmp_path])
    with pytest.raises(UsageError, match="no such file"):
        collect([tmp_path / "missing"])


def test_the_same_notebook_given_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "alice.ipynb") / "alice.ipynb"
    with pytest.raises(UsageError):
        collect([path, path])

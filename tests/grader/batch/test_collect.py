from __future__ import annotations

import os
import sqlite3
import stat
import time
import zipfile
from pathlib import Path

import pytest

from grader.batch import inputs
from grader.batch.collect import CollectedSubmission, collect
from grader.batch.inputs import LINK_REFUSED
from grader.errors import UsageError
from grader.grading.load import MAX_NOTEBOOK_BYTES
from tests.helpers import TOY_ASSIGNMENTS

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def write(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(NOTEBOOK + name.encode())  # distinct contents
    return root


def keys(found: tuple) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.student: f.lms_id for f in found}


def by_key(found: tuple[CollectedSubmission, ...]) -> dict[str, CollectedSubmission]:
    return {f.student: f for f in found}


TEACHING_NOTEBOOK = TOY_ASSIGNMENTS / "toy" / "toy.ipynb"


def link_member(archive: zipfile.ZipFile, name: str, target: str) -> None:
    """A zip member that unzip would make a symbolic link: Unix mode S_IFLNK, the target as its content."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, target)


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


def test_a_student_with_several_notebooks_gets_one_entry_each(tmp_path: Path) -> None:
    write(tmp_path, "alice/part1.ipynb", "alice/part2.ipynb", "bob/hw.ipynb")
    assert sorted(keys(collect([tmp_path]))) == ["alice/part1.ipynb", "alice/part2.ipynb", "bob"]


def test_nothing_to_grade_or_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no notebooks"):
        collect([tmp_path])
    with pytest.raises(UsageError, match="no such file"):
        collect([tmp_path / "missing"])


def test_the_same_notebook_given_twice_is_graded_once_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "alice.ipynb") / "alice.ipynb"
    (found,) = collect([path, path])
    assert found.student == "alice" and found.warnings == (f"{path} was given more than once: graded once",)


# ------------------------------------------------------------------ links and special files are never followed

def test_links_in_a_folder_are_refused_for_that_student_with_the_reason(tmp_path: Path) -> None:
    write(tmp_path, "peer/hw.ipynb")
    for student, target in {"teacher": TEACHING_NOTEBOOK, "copier": tmp_path / "peer" / "hw.ipynb",
                            "pager": Path("/proc/self/pagemap")}.items():
        (tmp_path / student).mkdir()
        (tmp_path / student / "hw.ipynb").symlink_to(target)
    (tmp_path / "folder_link").symlink_to(tmp_path / "peer", target_is_directory=True)
    started = time.monotonic()
    found = by_key(collect([tmp_path]))
    assert time.monotonic() - started < 5
    assert set(found) == {"peer", "teacher", "copier", "pager", "folder_link"}
    assert found["peer"].refused == "" and found["peer"].content.startswith(NOTEBOOK)
    for student in ("teacher", "copier", "pager"):
        assert found[student].refused == LINK_REFUSED and found[student].content == b""
    assert found["folder_link"].refused.startswith(LINK_REFUSED) and "folder" in found["folder_link"].refused
    # Nothing of the target was read, so the refusals' keys in the gradebook differ from any notebook's.
    assert found["copier"].content_hash != found["peer"].content_hash


def test_links_in_a_zip_are_refused_for_that_student_with_the_reason(tmp_path: Path) -> None:
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Peer One_1_assignsubmission_file_/hw.ipynb", NOTEBOOK)
        link_member(z, "Teacher Pet_2_assignsubmission_file_/hw.ipynb", str(TEACHING_NOTEBOOK))
        link_member(z, "Copy Cat_3_assignsubmission_file_/hw.ipynb", "../Peer One_1_assignsubmission_file_/hw.ipynb")
        link_member(z, "Page Map_4_assignsubmission_file_/hw.ipynb", "/proc/self/pagemap")
    found = by_key(collect([archive]))
    assert found["Peer One"].content == NOTEBOOK
    for student in ("Teacher Pet", "Copy Cat", "Page Map"):
        assert (found[student].refused, found[student].content) == (LINK_REFUSED, b"")


def test_a_fifo_or_a_device_is_refused_and_never_waited_on(tmp_path: Path) -> None:
    write(tmp_path, "alice/hw.ipynb")
    (tmp_path / "piper").mkdir()
    os.mkfifo(tmp_path / "piper" / "hw.ipynb")  # opening it to read would block until a writer came
    (tmp_path / "nully.ipynb").symlink_to("/dev/null")
    found = by_key(collect([tmp_path]))
    assert found["piper"].refused == "is a named pipe (FIFO), not a regular file"
    assert found["nully"].refused == LINK_REFUSED and found["alice"].refused == ""
    # Given on the command line, a FIFO is the instructor's path: still refused, not waited on.
    (given,) = collect([tmp_path / "piper" / "hw.ipynb"])
    assert given.refused == "is a named pipe (FIFO), not a regular file"
    (device,) = collect([Path("/dev/null")])
    assert device.refused == "is a character device, not a regular file"


def test_a_link_given_on_the_command_line_is_the_instructors_and_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "export", "alice/hw.ipynb")
    (tmp_path / "latest").symlink_to(tmp_path / "export", target_is_directory=True)
    (tmp_path / "bob.ipynb").symlink_to(tmp_path / "export" / "alice" / "hw.ipynb")
    found = by_key(collect([tmp_path / "latest", tmp_path / "bob.ipynb"]))
    assert found["alice"].refused == "" and found["bob"].refused == ""
    assert found["alice"].content == found["bob"].content


def test_an_unreadable_file_costs_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "alice/hw.ipynb", "bob/hw.ipynb")
    real_open = os.open

    def failing_for_bob(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path) == "hw.ipynb" and kwargs.get("dir_fd") is not None and \
                str(Path(f"/proc/self/fd/{kwargs['dir_fd']}").readlink()).endswith("/bob"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inputs.os, "open", failing_for_bob)
    found = by_key(collect([tmp_path]))
    assert found["bob"].refused == "cannot be read: Permission denied" and found["alice"].refused == ""


def test_folders_nested_past_the_limit_are_refused_not_searched(tmp_path: Path) -> None:
    deep = tmp_path / "alice" / Path(*["d"] * inputs.MAX_FOLDER_DEPTH)
    write(deep, "hw.ipynb")
    (found,) = collect([tmp_path])
    assert found.student == "alice" and "nested more than" in found.refused


def test_an_oversized_file_is_refused_without_reading_past_the_cap(tmp_path: Path) -> None:
    write(tmp_path, "alice/hw.ipynb")
    with (tmp_path / "big.ipynb").open("wb") as big:
        big.truncate(MAX_NOTEBOOK_BYTES + 1)  # sparse: costs no disk
    found = by_key(collect([tmp_path]))
    assert found["big"].refused == "is larger than 50 MB" and found["big"].content == b""


# ------------------------------------------------------------------ damaged zips and zip bombs cost one input

def test_a_corrupt_member_costs_only_itself(tmp_path: Path) -> None:
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("good_1_2_hw.ipynb", NOTEBOOK)
        z.writestr("bad_3_4_hw.ipynb", NOTEBOOK * 50)
    data = bytearray(archive.read_bytes())
    start = data.index(b"bad_3_4_hw.ipynb") + len(b"bad_3_4_hw.ipynb")  # the local header's name, then the data
    data[start + 4:start + 24] = bytes(20)
    archive.write_bytes(bytes(data))
    found = by_key(collect([archive]))
    assert found["good"].content == NOTEBOOK
    assert found["bad"].refused.startswith("is a damaged member of the archive: ")


def test_zip_slip_names_are_refused_with_the_reason(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escape.ipynb", NOTEBOOK)
        z.writestr("/abs.ipynb", NOTEBOOK)
        z.writestr("C:\\windows\\drive.ipynb", NOTEBOOK)
        z.writestr("fine.ipynb", NOTEBOOK)
    found = by_key(collect([archive]))
    assert set(found) == {"escape", "abs", "windows", "fine"}
    assert found["fine"].refused == ""
    for student in ("escape", "abs", "windows"):
        assert "climbs out of the archive" in found[student].refused and found[student].content == b""


def test_a_zip_bomb_is_refused_by_its_declared_and_by_its_real_size(tmp_path: Path) -> None:
    huge = b"0" * (MAX_NOTEBOOK_BYTES + 1)
    declared = tmp_path / "declared.zip"
    with zipfile.ZipFile(declared, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb_1_2_hw.ipynb", huge)  # 50 MB of zeros deflate to about 50 KB
        z.writestr("fine_3_4_hw.ipynb", NOTEBOOK)
    assert declared.stat().st_size < 1 << 20
    found = by_key(collect([declared]))
    assert found["bomb"].refused == "is larger than 50 MB uncompressed" and found["fine"].content == NOTEBOOK
    # The same bomb declaring a small size: the stream is capped, never trusting the header.
    lying = tmp_path / "lying.zip"
    data = bytearray(declared.read_bytes())
    size = (MAX_NOTEBOOK_BYTES + 1).to_bytes(4, "little")
    data[:] = data.replace(size, (100).to_bytes(4, "little"))  # in the local header and the central directory
    lying.write_bytes(bytes(data))
    found = by_key(collect([lying]))
    assert found["bomb"].refused.startswith(("is a damaged member", "is larger than")) and found["bomb"].content == b""
    assert found["fine"].content == NOTEBOOK


def test_a_zip_of_too_many_members_is_refused_whole_before_it_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_ARCHIVE_MEMBERS", 10)
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for number in range(11):
            z.writestr(f"s{number}_{number}_1_hw.ipynb", NOTEBOOK)
    listed: list[object] = []
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", lambda self: listed.append(self))  # reads every member
    (found,) = collect([archive])
    assert found.student == "many" and "11 members" in found.refused and listed == []


def test_a_damaged_zip_is_refused_whole_with_the_reason(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_1_2_hw.ipynb", NOTEBOOK)
    data = archive.read_bytes()
    central = data.index(b"PK\x01\x02")
    archive.write_bytes(data[:central] + b"XX" + data[central + 2:])  # the central directory's signature
    (found,) = collect([archive])
    assert found.student == "broken" and found.refused.startswith("is a damaged zip: BadZipFile")


# ------------------------------------------------------------------ identity comes from the export, not the student

GRADESCOPE_METADATA = (
    "submission_101:\n  :submitters:\n  - :name: Ann Honest\n    :sid: '100'\n"
    "submission_102:\n  :submitters:\n  - :name: Max Mallory\n    :sid: '200'\n")


def test_a_submission_metadata_in_a_students_submission_is_ignored_with_a_warning(tmp_path: Path) -> None:
    export = write(tmp_path / "export", "submission_101/hw.ipynb", "submission_102/hw.ipynb",
                   "submission_102/submission_101/hw.ipynb")
    (export / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    # Max's own file claims Ann's submission is his, and his is Ann's.
    (export / "submission_102" / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :sid: '100'\n"
        "submission_102:\n  :submitters:\n  - :sid: '200'\n")
    found = collect([export])
    assert {(f.student, f.source.removeprefix(str(export) + "/")) for f in found} == {
        ("100", "submission_101/hw.ipynb"), ("200/submission_102/hw.ipynb", "submission_102/hw.ipynb"),
        ("200/submission_102/submission_101/hw.ipynb", "submission_102/submission_101/hw.ipynb")}
    assert not any(f.warnings for f in found if f.student == "100")
    maxs = [f for f in found if f.student.startswith("200")]
    assert all(any("ignored submission_102/submission_metadata.yml" in w for w in f.warnings) for f in maxs)


def test_without_the_exports_own_metadata_a_students_is_still_not_believed(tmp_path: Path) -> None:
    export = write(tmp_path / "export", "submission_101/hw.ipynb", "submission_102/hw.ipynb")
    (export / "submission_102" / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    assert sorted(f.student for f in collect([export])) == ["submission_101", "submission_102"]
    folders = write(tmp_path / "folders", "alice/submission_1/hw.ipynb")
    (folders / "alice" / "submission_metadata.yml").write_text("submission_1:\n  :submitters:\n  - :sid: bob\n")
    (found,) = collect([folders])
    assert found.student == "alice" and "ignored alice/submission_metadata.yml" in found.warnings[0]


def test_a_gradescope_export_zip_reads_the_metadata_of_its_export_folder(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("assignment_77_export/submission_metadata.yml", GRADESCOPE_METADATA)
        z.writestr("assignment_77_export/submission_101/hw.ipynb", NOTEBOOK)
        z.writestr("assignment_77_export/submission_102/hw.ipynb", NOTEBOOK + b" ")
        z.writestr("assignment_77_export/submission_102/submission_metadata.yml",
                   "submission_101:\n  :submitters:\n  - :sid: '200'\n")
    assert keys(collect([archive])) == {"100": "101", "200": "102"}


# ------------------------------------------------------------------ collisions: distinct, stable keys, never a refusal

def test_two_notebooks_of_one_name_for_one_student_get_distinct_keys_and_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "alice/a/hw.ipynb", "alice/b/hw.ipynb", "bob/hw.ipynb")
    found = by_key(collect([tmp_path]))
    assert set(found) == {"alice/alice/a/hw.ipynb", "alice/alice/b/hw.ipynb", "bob"}
    warning = found["alice/alice/a/hw.ipynb"].warnings
    assert warning == found["alice/alice/b/hw.ipynb"].warnings and len(warning) == 1
    assert warning[0].startswith("2 notebooks were found for 'alice': alice/a/hw.ipynb; alice/b/hw.ipynb")
    assert found["bob"].warnings == ()
    assert [f.student for f in collect([tmp_path])] == sorted(found)  # the same inputs, the same keys


def test_two_moodle_students_of_one_name_are_told_apart_by_their_lms_ids(tmp_path: Path) -> None:
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Jane Doe_4321_assignsubmission_file_/hw.ipynb", NOTEBOOK)
        z.writestr("Jane Doe_8765_assignsubmission_file_/hw.ipynb", NOTEBOOK + b" ")
    found = by_key(collect([archive]))
    assert keys(tuple(found.values())) == {"Jane Doe [4321]": "4321", "Jane Doe [8765]": "8765"}
    assert found["Jane Doe [4321]"].warnings[0].startswith("2 students share the name 'Jane Doe' (LMS ids 4321, 8765)")


def test_the_same_member_name_twice_in_one_zip_is_graded_twice(tmp_path: Path) -> None:
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_1_2_hw.ipynb", NOTEBOOK)
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("alice_1_2_hw.ipynb", NOTEBOOK + b" ")
    found = collect([archive])
    assert len({f.student for f in found}) == 2 and {f.content for f in found} == {NOTEBOOK, NOTEBOOK + b" "}
    # Name, LMS id, file and path are all the same: a digest of the source tells them apart.
    assert [f.student[:len("alice #")] for f in found] == ["alice #", "alice #"]
    assert all(f.warnings and f.warnings[0].startswith("2 notebooks were found for 'alice'") for f in found)


def test_file_names_that_are_not_utf8_are_shown_escaped_and_never_merged(tmp_path: Path) -> None:
    (tmp_path / "dup").mkdir()
    for name, content in ((b"\xff\xfe.ipynb", NOTEBOOK), (b"dup/\xff.ipynb", NOTEBOOK + b"1"),
                          (b"dup/\\xff.ipynb", NOTEBOOK + b"2")):  # the last one prints like the one before
        (tmp_path / os.fsdecode(name)).write_bytes(content)  # fsdecode's surrogates encode back to these bytes
    found = collect([tmp_path])
    assert len({f.student for f in found}) == 3 and {f.content for f in found} == {NOTEBOOK, NOTEBOOK + b"1",
                                                                                    NOTEBOOK + b"2"}
    database = sqlite3.connect(":memory:")  # which refuses the lone surrogates Python decodes such names to
    for item in found:
        database.execute("SELECT ?, ?", (item.student, item.source))
    assert by_key(found)["\\xff\\xfe"].source == f"{tmp_path}/\\xff\\xfe.ipynb"


def test_a_file_swapped_for_a_fifo_or_a_link_after_it_was_listed_is_still_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "piper").mkdir()
    os.mkfifo(tmp_path / "piper" / "hw.ipynb")
    (tmp_path / "linker").mkdir()
    (tmp_path / "linker" / "hw.ipynb").symlink_to("/proc/self/pagemap")
    real_stat = os.stat

    def says_regular_when_listed(name: object, *args: object, **kwargs: object) -> os.stat_result:
        if name == "hw.ipynb" and kwargs.get("follow_symlinks") is False:  # the listing's look, not the open's
            return os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, 10, 0, 0, 0))
        return real_stat(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inputs.os, "stat", says_regular_when_listed)
    found = by_key(collect([tmp_path]))
    assert found["piper"].refused == "is a named pipe (FIFO), not a regular file"
    assert found["linker"].refused.startswith("cannot be read: ") and found["linker"].content == b""


def test_one_submission_is_read_up_to_its_budget_and_costs_no_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, *(f"hoarder/hw{number:02d}.ipynb" for number in range(inputs.MAX_NOTEBOOKS_PER_SUBMISSION
                                                                            + 5)), "zed/hw.ipynb")
    found = collect([tmp_path])
    hoarded = [f for f in found if f.student.startswith("hoarder/")]
    assert len(hoarded) == inputs.MAX_NOTEBOOKS_PER_SUBMISSION + 1  # the budget, and one refusal saying so
    refused = [f for f in hoarded if f.refused]
    assert len(refused) == 1 and "past what one submission may hold" in refused[0].refused
    assert [f.student for f in found if not f.student.startswith("hoarder/")] == ["zed"]

    monkeypatch.setattr(inputs, "MAX_BYTES_PER_SUBMISSION", 2 * len(NOTEBOOK))
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:  # a Canvas student's flat files: one submission
        for number in range(5):
            z.writestr(f"hoarder_1_2_hw{number}.ipynb", NOTEBOOK + b" " * number)
        z.writestr("zed_3_4_hw.ipynb", NOTEBOOK)
    found = collect([archive])
    assert [bool(f.refused) for f in found if f.student.startswith("hoarder")] == [False, False, True]
    assert by_key(found)["zed"].content == NOTEBOOK


def test_an_lms_shaped_file_name_inside_a_students_folder_names_that_student(tmp_path: Path) -> None:
    # alice cannot hand work in as bob by naming her file as Canvas names bob's.
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "bob_4321_1_hw.ipynb").write_bytes(NOTEBOOK)
    (found,) = collect([tmp_path])
    assert (found.student, found.lms_id) == ("alice", "")

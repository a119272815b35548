from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader.safe_write import make_folder, write_file


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-owned file that only its owner may read or write, as /etc/shadow is."""
    path = tmp_path / "victim"
    path.write_text("root's own")
    path.chmod(0o600)
    return path


def test_a_file_is_written_whole_with_its_mode_and_nothing_left_staged(tmp_path: Path) -> None:
    path = write_file(tmp_path / "new" / "results.json", '{"score": 1}\n')
    assert path.read_text() == '{"score": 1}\n' and stat.S_IMODE(path.stat().st_mode) == 0o644
    write_file(path, b"again", mode=0o600)
    assert path.read_bytes() == b"again" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


def test_a_link_planted_at_the_output_is_replaced_and_its_target_untouched(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "results.json"
    link.symlink_to(victim)
    write_file(link, '{"score": 100}\n')
    assert victim.read_text() == "root's own" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not link.is_symlink() and stat.S_ISREG(link.lstat().st_mode) and link.read_text() == '{"score": 100}\n'


def test_a_dangling_link_at_the_output_makes_no_file_at_its_target(tmp_path: Path) -> None:
    link = tmp_path / "report.html"
    link.symlink_to(tmp_path / "created_elsewhere")
    write_file(link, "<html>")
    assert not (tmp_path / "created_elsewhere").exists() and link.read_text() == "<html>"


def test_a_planted_staging_name_is_never_opened(tmp_path: Path, victim: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr("grader.safe_write.secrets.token_hex", lambda _: next(names))
    (tmp_path / ".grades.csv.aaaa.partial").symlink_to(victim)  # the first name it will try
    write_file(tmp_path / "grades.csv", "student\r\n")
    assert victim.read_text() == "root's own" and (tmp_path / "grades.csv").read_bytes() == b"student\r\n"
    assert (tmp_path / ".grades.csv.aaaa.partial").is_symlink()


def test_folders_below_base_are_never_followed_but_the_base_itself_is(tmp_path: Path) -> None:
    elsewhere, real_out = tmp_path / "elsewhere", tmp_path / "real_out"
    elsewhere.mkdir()
    real_out.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real_out, target_is_directory=True)  # --out DIR is the user's own path: followed
    (real_out / "results").symlink_to(elsewhere, target_is_directory=True)  # planted: not followed
    write_file(out / "results" / "a.json", "{}", base=out)
    assert list(elsewhere.iterdir()) == [] and (real_out / "results" / "a.json").read_text() == "{}"
    assert not (real_out / "results").is_symlink()
    make_folder(out / "feedback" / "deeper", base=out)
    assert (real_out / "feedback" / "deeper").is_dir()


def test_a_file_in_the_way_of_an_output_folder_is_an_error_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("someone's notes")
    with pytest.raises(NotADirectoryError):
        write_file(tmp_path / "results" / "a.json", "{}", base=tmp_path)
    assert (tmp_path / "results").read_text() == "someone's notes"


def test_a_failed_write_leaves_the_old_file_and_no_staged_one(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_file(tmp_path / "summary.json", "old")

    def no_rename(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="No space"):
        write_file(path, "new")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_without_folder_descriptors_the_output_is_still_staged_and_renamed_into_place(
        tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grader.safe_write.BY_DESCRIPTOR", False)  # as on Windows
    target = tmp_path / "out" / "results.json"
    write_file(target, "first")
    target.unlink()
    target.symlink_to(victim)
    original = victim.read_bytes()
    assert write_file(target, "second") == target
    assert target.read_text() == "second" and not target.is_symlink() and victim.read_bytes() == original
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]
    assert make_folder(tmp_path / "out" / "feedback", base=tmp_path).is_dir()

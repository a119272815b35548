"""Seeds: deterministic per (secret, submission, label), and a course secret made once, privately."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
import torch

from grader.course import COURSE_FILE, Course, read_course
from grader.course.seeding import CourseSecret, course_secret, derive_seed, secret_file
from grader.environment import (
    SECRET_ENVIRONMENT,
    SECRET_FILE_ENVIRONMENT,
    configured_secret,
)

DIGEST = "ab" * 32


def test_derive_seed_is_deterministic() -> None:
    assert derive_seed(b"secret", DIGEST, "corr2d_matches_reference") == derive_seed(b"secret", DIGEST,
                                                                                     "corr2d_matches_reference")


def test_derive_seed_changes_with_the_digest_the_label_and_the_secret() -> None:
    seeds = {derive_seed(b"secret", DIGEST, "a"), derive_seed(b"secret", "cd" * 32, "a"),
             derive_seed(b"secret", DIGEST, "b"), derive_seed(b"other", DIGEST, "a")}
    assert len(seeds) == 4


def test_derive_seed_does_not_confuse_where_digest_ends_and_label_begins() -> None:
    assert derive_seed(b"s", "ab", "c") != derive_seed(b"s", "a", "bc")


def test_derived_seeds_fit_a_torch_generator() -> None:
    for label in ("worker", "a", "b", "c", "d"):
        seed = derive_seed(b"secret", DIGEST, label)
        assert 0 <= seed < 2**63
        torch.Generator().manual_seed(seed)


def course_with_secret(tmp_path: Path, secret: Path | None) -> Course:
    root = tmp_path / "course"
    root.mkdir(exist_ok=True)
    (root / COURSE_FILE).write_text("[course]\n")
    return dataclasses.replace(read_course(root), secret=secret)


def test_a_secret_given_as_a_value_is_used_as_is_and_has_no_file(tmp_path: Path) -> None:
    assert course_secret(course_with_secret(tmp_path, tmp_path / "s"), b"given") == CourseSecret(b"given", None)
    assert not (tmp_path / "s").exists()


def test_course_secret_is_made_once_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "convgrade" / "secret"
    course = course_with_secret(tmp_path, path)
    assert secret_file(course) == path
    first = course_secret(course)
    assert first.file == path and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.value) == 64 and int(first.value, 16) >= 0
    assert course_secret(course) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no staging file left behind


def test_a_chosen_file_wins_over_the_courses(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.write_text("kept-secret\n")
    course = course_with_secret(tmp_path, tmp_path / "the-courses")
    assert course_secret(course, chosen) == CourseSecret(b"kept-secret", chosen)
    assert not (tmp_path / "the-courses").exists()


def test_different_secret_files_give_different_secrets(tmp_path: Path) -> None:
    one = course_secret(course_with_secret(tmp_path, tmp_path / "one"))
    assert course_secret(course_with_secret(tmp_path, tmp_path / "two")).value != one.value


def test_the_default_secret_file_lives_under_xdg_config_home(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert secret_file(course_with_secret(tmp_path, None)) == tmp_path / "convgrade" / "secret"


def test_the_entry_points_read_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv(SECRET_ENVIRONMENT, "from-the-environment")
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(tmp_path / "secret"))
    assert configured_secret() == b"from-the-environment"
    monkeypatch.setenv(SECRET_ENVIRONMENT, "")  # empty: as if unset
    assert configured_secret() == tmp_path / "secret"
    monkeypatch.delenv(SECRET_FILE_ENVIRONMENT)
    assert configured_secret() is None

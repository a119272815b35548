"""Seeds: deterministic per (secret, submission, label), and a course secret made once, privately."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from grader.course.seeding import course_secret, derive_seed, secret_file

SECRET_ENVIRONMENT = "CONVGRADE_SECRET"
SECRET_FILE_ENVIRONMENT = "CONVGRADE_SECRET_FILE"

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


def test_course_secret_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SECRET_ENVIRONMENT, "from-the-environment")
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(tmp_path / "secret"))
    assert course_secret() == b"from-the-environment"
    assert not (tmp_path / "secret").exists()


def test_course_secret_is_made_once_in_a_private_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config" / "convgrade" / "secret"
    monkeypatch.delenv(SECRET_ENVIRONMENT, raising=False)
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(path))
    assert secret_file() == path
    first = course_secret()
    assert path.is_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) == 64 and int(first, 16) >= 0
    assert course_secret() == first
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no staging file left behind


def test_an_empty_environment_secret_falls_back_to_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("kept-secret\n")
    monkeypatch.setenv(SECRET_ENVIRONMENT, "")
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(path))
    assert course_secret() == b"kept-secret"


def test_different_secret_files_give_different_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SECRET_ENVIRONMENT, raising=False)
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(tmp_path / "one"))
    one = course_secret()
    monkeypatch.setenv(SECRET_FILE_ENVIRONMENT, str(tmp_path / "two"))
    assert course_secret() != one


def test_the_default_secret_file_lives_under_xdg_config_home(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.delenv(SECRET_FILE_ENVIRONMENT, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert secret_file() == tmp_path / "convgrade" / "secret"

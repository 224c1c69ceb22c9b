"""The shared test helpers: skips that name their test, copies of the migrated template."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from support import current_test, migrated_copy, missing_part
from todo_api.db import create_engine
from todo_api.migrate import is_at_head

THIS_TEST = "tests/test_support.py::test_a_skip_from_a_shared_helper_names_the_test"


def test_a_skip_from_a_shared_helper_names_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TODO_TEST_STRICT", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        missing_part("no widget installed")
    assert str(skipped.value) == f"{THIS_TEST}: no widget installed"


def test_in_strict_mode_the_failure_names_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_TEST_STRICT", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        missing_part("no widget installed")
    assert str(failed.value) == f"strict mode: {current_test()}: no widget installed"
    assert current_test().endswith("::test_in_strict_mode_the_failure_names_the_test")


def test_a_copy_of_the_template_is_a_database_of_its_own_at_head(
    migrated_template: Path, tmp_path: Path
) -> None:
    first_url = migrated_copy(migrated_template, tmp_path / "first.db")
    second_url = migrated_copy(migrated_template, tmp_path / "second.db")
    first, second = create_engine(first_url), create_engine(second_url)
    try:
        with first.begin() as connection:
            assert is_at_head(connection)
            connection.exec_driver_sql("CREATE TABLE only_in_the_first (x)")
        with second.connect() as connection:
            assert is_at_head(connection)
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        first.dispose()
        second.dispose()
    assert "only_in_the_first" not in tables

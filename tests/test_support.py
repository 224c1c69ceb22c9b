"""The shared test helpers: skips reported at the test, copies of the migrated template."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from support import migrated_copy, missing_part, skip_reported_at_test
from todo_api.db import create_engine
from todo_api.migrate import is_at_head


def test_a_skip_from_a_shared_helper_is_reported_at_the_test_naming_it(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TODO_TEST_STRICT", raising=False)
    item = request.node
    assert isinstance(item, pytest.Item)
    # The report pytest makes of a test that called missing_part.
    call = pytest.CallInfo.from_call(lambda: missing_part("no widget installed"), "call")
    report = pytest.TestReport.from_item_and_call(item, call)
    assert isinstance(report.longrepr, tuple)
    assert Path(report.longrepr[0]).name == "support.py"  # where pytest itself puts it

    skip_reported_at_test(item, report)

    assert report.longrepr == (
        str(item.path),
        (item.location[1] or 0) + 1,  # the line of this test's `def`
        "Skipped: no widget installed"
        " (test_a_skip_from_a_shared_helper_is_reported_at_the_test_naming_it)",
    )


def test_a_skip_raised_in_the_test_file_stays_where_it_was_raised(
    request: pytest.FixtureRequest,
) -> None:
    item = request.node
    assert isinstance(item, pytest.Item)
    call = pytest.CallInfo.from_call(lambda: pytest.skip("not here"), "call")
    report = pytest.TestReport.from_item_and_call(item, call)
    before = report.longrepr

    skip_reported_at_test(item, report)

    assert report.longrepr == before


def test_in_strict_mode_a_missing_part_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_TEST_STRICT", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        missing_part("no widget installed")
    assert str(failed.value) == "strict mode: no widget installed"


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

"""`mlops drift check --workers N` splits a parquet file's row groups across worker processes; the report is the
same as with one worker. Real processes, so an integration test."""

import pytest

from tests.support.drift_cli import check, frame, make_inputs

pytestmark = pytest.mark.integration


def test_parquet_row_groups_split_across_processes_give_the_same_report(tmp_path):
    files = make_inputs(tmp_path)
    current = files["dir"] / "groups.parquet"
    frame(2, n=4_000).to_parquet(current, row_group_size=1_000)
    _, one = check(files, current, "--workers", "1")
    _, two = check(files, current, "--workers", "2")
    assert one["summary"]["current_rows"] == two["summary"]["current_rows"] == 4_000
    for name in ("x", "k", "c"):
        assert one["columns"][name]["statistic"] == pytest.approx(two["columns"][name]["statistic"])

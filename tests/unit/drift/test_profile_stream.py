"""`mlops drift profile` streams: a Parquet or CSV file profiled batch by batch gives the same profile as the whole
frame in memory, above the sample size too (edges from the same deterministic sample, counts exact), and the Arrow
and pandas readers count every type alike."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops.drift import builder, data
from mlops.drift.builder import build_profile
from mlops.drift.profile import ProfileError
from mlops.drift.values import from_arrow, from_series

pytestmark = pytest.mark.unit


def _mixed(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.poisson(3, n),
            "gaps": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(size=n)),
            "nullable_int": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(0, 9, n)), dtype="Int64"),
            "flag": rng.random(n) < 0.3,
            "c": np.where(rng.random(n) < 0.02, None, rng.choice(["a", "b", "c", "d"], n)).astype(object),
            "ids": [f"id{i % (n // 3)}" for i in range(n)],
            "day": [dt.date(2026, 1, 1 + i % 28) for i in range(n)],
            "empty": [None] * n,
        }
    )
    frame.loc[5, "x"] = np.inf  # counts as missing
    return frame


def _comparable(profile) -> dict:
    body = profile.to_dict()
    body.pop("created_at")
    for col in body["columns"].values():
        col.pop("mean"), col.pop("std")  # sums of chunks round differently in the last bits
    return body


def _assert_same(streamed, in_memory) -> None:
    assert _comparable(streamed) == _comparable(in_memory)
    for name, col in in_memory.columns.items():
        other = streamed.columns[name]
        if col.mean is None:
            assert other.mean is None
            continue
        assert other.mean == pytest.approx(col.mean, rel=1e-9, abs=1e-12)
        assert other.std == pytest.approx(col.std, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_streamed_file_profile_equals_the_in_memory_one(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(data, "BATCH_ROWS", 700)
    monkeypatch.setattr(data, "IN_PROCESS_ROWS", 1_000)
    monkeypatch.setattr(data, "CSV_CHUNK_ROWS", 900)
    path = tmp_path / f"ref{suffix}"
    frame = _mixed(5_000)
    if suffix == ".parquet":
        frame.to_parquet(path, row_group_size=1_600)
    else:
        frame.drop(columns=["day", "empty"]).to_csv(path, index=False)
    streamed = data.profile_file(path, target="k", prediction="x")
    in_memory = build_profile(data.read_frame(path), target="k", prediction="x")
    _assert_same(streamed, in_memory)
    assert streamed.columns["c"].kind == "categorical" and streamed.columns["x"].missing == 1
    assert streamed.multivariate["status"] == "fitted"


def test_above_the_sample_edges_come_from_the_same_sample_and_counts_stay_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "SAMPLE_ROWS", 1_000)
    monkeypatch.setattr(data, "BATCH_ROWS", 600)
    monkeypatch.setattr(data, "IN_PROCESS_ROWS", 1_000)
    frame = _mixed(6_000, seed=4)[["x", "k", "gaps", "c"]]
    path = tmp_path / "ref.parquet"
    frame.to_parquet(path, row_group_size=2_500)
    streamed = data.profile_file(path)
    _assert_same(streamed, build_profile(frame))
    x = streamed.columns["x"]
    values = frame["x"].replace(np.inf, np.nan).dropna().to_numpy()
    edges = np.asarray(x.edges)
    exact = np.diff(np.searchsorted(np.sort(values), edges, side="right"), prepend=0)
    assert x.counts == [*exact.tolist(), 0] and sum(x.counts) == x.count == len(values)
    assert (x.min, x.max) == (values.min(), values.max()) == (edges[0], edges[-1])


def test_arrow_and_pandas_count_every_type_alike():
    frame = _mixed(2_000)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in frame.columns:
        mine, theirs = from_arrow(table.column(name)), from_series(frame[name])
        assert (mine.kind, mine.rows, mine.missing) == (theirs.kind, theirs.rows, theirs.missing), name
        if mine.labels is not None:
            assert dict(zip(mine.labels, mine.counts.tolist(), strict=True)) == dict(
                zip(theirs.labels, theirs.counts.tolist(), strict=True)
            ), name
        if mine.numbers is not None:
            np.testing.assert_array_equal(mine.numbers, theirs.numbers)
    encoded = table.column("c").dictionary_encode()
    assert dict(zip(*[from_arrow(encoded).labels, from_arrow(encoded).counts.tolist()], strict=True)) == dict(
        zip(from_series(frame["c"]).labels, from_series(frame["c"]).counts.tolist(), strict=True)
    )


def test_a_column_that_changes_type_between_chunks_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CSV_CHUNK_ROWS", 100)
    path = tmp_path / "ref.csv"
    pd.DataFrame({"x": [str(i) for i in range(150)] + ["unknown"] * 50, "y": range(200)}).to_csv(path, index=False)
    with pytest.raises(ProfileError, match="column 'x' changes type at row 100"):
        data.profile_file(path)

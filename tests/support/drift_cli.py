"""`mlops drift` run in-process (click's CliRunner) on generated data: a reference, a current window and a profile
of the reference, for the drift CLI tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner, Result

from mlops.drift.cli import drift


def frame(seed: int, n: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "k": rng.poisson(3, n), "c": rng.choice(list("abc"), n)})


def invoke(*args) -> Result:
    """`mlops drift ARGS`; never a traceback, never an exception other than the exit."""
    result = CliRunner().invoke(drift, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def make_inputs(directory: Path) -> dict[str, Path]:
    """ref.parquet and cur.parquet (same distribution), and profile.json of the reference for model `fraud`."""
    ref, cur = directory / "ref.parquet", directory / "cur.parquet"
    frame(1).to_parquet(ref)
    frame(2).to_parquet(cur)
    profile = directory / "profile.json"
    result = invoke("profile", "--reference", ref, "--out", profile, "--model-name", "fraud")
    assert result.exit_code == 0, result.output
    return {"ref": ref, "cur": cur, "profile": profile, "dir": directory}


def check(files: dict[str, Path], current: Path, *extra) -> tuple[Result, dict | None]:
    """`mlops drift check` of `current` against the profile: the result and the JSON report, if one was written."""
    out = files["dir"] / "report.json"
    result = invoke("check", "--profile", files["profile"], "--current", current, "--json", out, *extra)
    return result, (json.loads(out.read_text()) if out.exists() else None)

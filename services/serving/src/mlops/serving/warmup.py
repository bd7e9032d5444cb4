"""`python -m mlops.serving.warmup`, run once when the image is built: import what `mlops serve` imports to start
and to load a model of the flavours the image serves, so Python writes the bytecode of those modules and no others.

The image then carries the .pyc files it uses (about 60 MB) rather than every module of scipy, pandas and MLflow
(about 160 MB, what compiling the whole environment costs), and starts as fast: the server runs read-only and never
writes bytecode itself. A model of another flavour still loads; its modules compile in memory at each start.
"""

from __future__ import annotations

import importlib
import sys

MODULES = (
    # the command, the server and the app
    "mlops.core.cli",
    "mlops.serving.cli",
    "mlops.serving.app",
    "mlops.serving.parquet",
    "uvicorn.main",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
    "starlette.middleware.cors",
    "prometheus_client",
    # loading a model: the registry client, MLflow's pyfunc and the sklearn flavour with skops
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "mlflow.pyfunc.scoring_server",
    "skops.io",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.tree",
    # capture and CloudWatch: boto3's clients and Parquet
    "boto3",
    "arro3.io",
)


def main() -> None:
    if sys.dont_write_bytecode:
        raise SystemExit("warmup: PYTHONDONTWRITEBYTECODE is set, so nothing would be compiled; unset it")
    for name in MODULES:
        importlib.import_module(name)


if __name__ == "__main__":
    main()

"""Moving the `champion` alias. One MLflow call re-points the alias, so serving never sees a model without a
champion; the outgoing champion keeps the `previous` alias for rollback. A per-model lock serialises promotions,
and an optional expected champion makes the move a compare-and-set (a gate decision taken against champion v3
cannot promote over a v4 that arrived meanwhile). Every move writes an audit record: who, what, why, when.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import uuid

from pipelines.errors import PipelineError
from pipelines.locking import FileLock, lock_path
from pipelines.registry import CHAMPION, PREVIOUS, ModelRef, alias_version, client, resolve, translate

log = logging.getLogger(__name__)
ANY = object()  # expected_champion default: do not compare


def _actor(settings) -> str:
    return settings.actor or getpass.getuser()


def _write_audit(settings, record: dict) -> str:
    import boto3

    key = f"audit/promotions/{record['model']}/{record['at'].replace(':', '')}-{record['id']}.json"
    boto3.client("s3", region_name=settings.region).put_object(
        Bucket=settings.data_bucket, Key=key, Body=json.dumps(record, sort_keys=True).encode()
    )
    return f"s3://{settings.data_bucket}/{key}"


def _move(settings, name: str, action: str, target: str, reason: str, expected_champion=ANY) -> dict:
    from mlflow.exceptions import MlflowException

    if not reason.strip():
        raise PipelineError("a reason is required for the audit record (--reason)")
    mlflow_client = client()
    resolve(mlflow_client, ModelRef(name, version=target))  # the version must exist
    with FileLock(lock_path(settings.state_dir, "promote", name), purpose=action).acquire(wait_seconds=30):
        current = alias_version(mlflow_client, name, CHAMPION)
        old_previous = alias_version(mlflow_client, name, PREVIOUS)
        if expected_champion is not ANY and current != expected_champion:
            raise PipelineError(
                f"the champion of {name!r} moved to version {current} after the gate compared against "
                f"{expected_champion}; not promoting version {target}"
            )
        if current == target:
            raise PipelineError(f"version {target} of {name!r} is already the champion")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        record = {
            "id": uuid.uuid4().hex[:12],
            "at": now,
            "model": name,
            "action": action,
            "actor": _actor(settings),
            "reason": reason,
            "from_version": current,
            "to_version": target,
        }
        try:
            if current is not None:
                mlflow_client.set_registered_model_alias(name, PREVIOUS, current)
            mlflow_client.set_registered_model_alias(name, CHAMPION, target)  # the one atomic switch
        except MlflowException as exc:
            raise translate(exc, f"moving @{CHAMPION} of {name!r}") from None
        try:
            record["audit_uri"] = _write_audit(settings, record)
        except Exception as exc:  # the move must not stand without its audit record: put the aliases back
            _restore(mlflow_client, name, {CHAMPION: current, PREVIOUS: old_previous})
            raise PipelineError(f"audit record not written, so the champion stays {current}: {exc}") from None
        mlflow_client.set_model_version_tag(name, target, "mlops.promoted", json.dumps(record, sort_keys=True))
        mlflow_client.set_registered_model_tag(name, "mlops.last_promotion", json.dumps(record, sort_keys=True))
    log.info("champion moved", extra={"audit": record})
    return record


def _restore(mlflow_client, name: str, aliases: dict[str, str | None]) -> None:
    for alias, version in aliases.items():
        if version is None:
            mlflow_client.delete_registered_model_alias(name, alias)
        else:
            mlflow_client.set_registered_model_alias(name, alias, version)


def promote(settings, name: str, version: str, reason: str, expected_champion=ANY) -> dict:
    return _move(settings, name, "promote", str(version), reason, expected_champion)


def rollback(settings, name: str, reason: str) -> dict:
    """champion <- previous; the version rolled away from becomes `previous`, so a rollback can be undone."""
    previous = alias_version(client(), name, PREVIOUS)
    if previous is None:
        raise PipelineError(f"model {name!r} has no @{PREVIOUS} version to roll back to")
    return _move(settings, name, "rollback", previous, reason)

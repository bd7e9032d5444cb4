"""Moving the champion alias (`MLOPS_CHAMPION_ALIAS`, default `champion`). One MLflow call re-points the alias, so
serving never sees a model without a champion; the outgoing champion keeps the `previous` alias for rollback. A
per-model lock serialises promotions, and an optional expected champion makes the move a compare-and-set (a gate
decision taken against champion v3 cannot promote over a v4 that arrived meanwhile). Every move writes an audit
record: who, what, why, when.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import uuid
from typing import Any

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import PREVIOUS_ALIAS, ModelRef, Tags, promotion_audit_key
from mlops.core.errors import MlopsError
from mlops.core.locking import FileLock, lock_path
from mlops.core.settings import Settings

log = logging.getLogger(__name__)
ANY: Any = object()  # expected_champion default: do not compare


def _actor(settings: Settings) -> str:
    return settings.actor or getpass.getuser()


def _write_audit(settings: Settings, record: dict[str, Any]) -> str:
    key = promotion_audit_key(record["model"], record["at"], record["id"])
    aws_client("s3", settings).put_object(
        Bucket=settings.data_bucket, Key=key, Body=json.dumps(record, sort_keys=True).encode()
    )
    return f"s3://{settings.data_bucket}/{key}"


def _move(
    settings: Settings, name: str, action: str, target: str, reason: str, expected_champion: Any = ANY
) -> dict[str, Any]:
    if not reason.strip():
        raise MlopsError("a reason is required for the audit record (--reason)")
    champion = settings.champion_alias
    registry = Registry(settings=settings)
    registry.resolve(ModelRef(name, version=target))  # the version must exist
    with FileLock(lock_path(settings.state_dir, "promote", name), purpose=action).acquire(wait_seconds=30):
        current = registry.alias_version(name, champion)
        old_previous = registry.alias_version(name, PREVIOUS_ALIAS)
        if expected_champion is not ANY and current != expected_champion:
            raise MlopsError(
                f"the champion of {name!r} moved to version {current} after the gate compared against "
                f"{expected_champion}; not promoting version {target}"
            )
        if current == target:
            raise MlopsError(f"version {target} of {name!r} is already the champion (@{champion})")
        record = {
            "id": uuid.uuid4().hex[:12],
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": name,
            "alias": champion,
            "action": action,
            "actor": _actor(settings),
            "reason": reason,
            "from_version": current,
            "to_version": target,
        }
        if current is not None:
            registry.set_alias(name, PREVIOUS_ALIAS, current)
        registry.set_alias(name, champion, target)  # the one atomic switch
        try:
            record["audit_uri"] = _write_audit(settings, record)
        except Exception as exc:  # the move must not stand without its audit record: put the aliases back
            registry.set_alias(name, champion, current)
            registry.set_alias(name, PREVIOUS_ALIAS, old_previous)
            raise MlopsError(f"audit record not written, so @{champion} stays {current}: {exc}") from None
        registry.client.set_model_version_tag(name, target, Tags.PROMOTED, json.dumps(record, sort_keys=True))
        registry.client.set_registered_model_tag(name, Tags.LAST_PROMOTION, json.dumps(record, sort_keys=True))
    log.info("champion moved", extra={"audit": record})
    return record


def promote(settings: Settings, name: str, version: str, reason: str, expected_champion: Any = ANY) -> dict[str, Any]:
    return _move(settings, name, "promote", str(version), reason, expected_champion)


def rollback(settings: Settings, name: str, reason: str) -> dict[str, Any]:
    """champion <- previous; the version rolled away from becomes `previous`, so a rollback can be undone."""
    previous = Registry(settings=settings).alias_version(name, PREVIOUS_ALIAS)
    if previous is None:
        raise MlopsError(f"model {name!r} has no @{PREVIOUS_ALIAS} version to roll back to")
    return _move(settings, name, "rollback", previous, reason)

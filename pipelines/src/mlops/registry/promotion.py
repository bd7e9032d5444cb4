"""Moving the champion alias (`MLOPS_CHAMPION_ALIAS`, default `champion`). One MLflow call re-points the alias, so
serving never sees a model without a champion; the outgoing champion keeps the `previous` alias for rollback. A
per-model lock serialises promotions, and an optional expected champion makes the move a compare-and-set (a gate
decision taken against champion v3 cannot promote over a v4 that arrived meanwhile). Every move writes an audit
record: who, what, why, when.

The intent is written before anything moves, so a crash at any point (even SIGKILL) leaves a trace to repair:

1. the intent: the record with status "pending" at `audit/promotions/<model>/pending.json` (data bucket);
2. `@previous` <- the outgoing champion, then `@champion` <- the target (the one atomic switch);
3. the audit record, status "done", at its own key; then the intent is deleted and the registry tags written.

The next promote or rollback of the model repairs a pending intent first, under the same lock: if `@champion`
already points at the target the move is completed (status "done"), if it still points at the old champion
`@previous` is put back (status "aborted"), and anything else is recorded as a "conflict" and left alone.
`mlops lineage` reports a pending intent. Either way the audit records and the aliases agree.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import signal
import uuid
from typing import Any

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import PREVIOUS_ALIAS, ModelRef, Tags, promotion_audit_key
from mlops.core.errors import MlopsError
from mlops.core.locking import FileLock, lock_path
from mlops.core.settings import Settings

log = logging.getLogger(__name__)
ANY: Any = object()  # expected_champion default: do not compare
# MLOPS_FAILPOINT=promote:<step> kills this process with SIGKILL at that step: how the tests and the reliability
# benchmark crash a promotion at a chosen point. Steps, in order: intent, previous, champion, audit.
FAILPOINT = "MLOPS_FAILPOINT"
STEPS = ("intent", "previous", "champion", "audit")


def _failpoint(step: str) -> None:
    if os.environ.get(FAILPOINT) == f"promote:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def _actor(settings: Settings) -> str:
    return settings.actor or getpass.getuser()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def pending_key(model: str) -> str:
    """The one intent marker of a model, beside its audit records (promotions of a model are serialised)."""
    return promotion_audit_key(model, "x", "x").rsplit("/", 1)[0] + "/pending.json"


def _put(s3: Any, settings: Settings, key: str, record: dict[str, Any]) -> str:
    s3.put_object(Bucket=settings.data_bucket, Key=key, Body=json.dumps(record, sort_keys=True).encode())
    return f"s3://{settings.data_bucket}/{key}"


def _get(s3: Any, settings: Settings, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=settings.data_bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    record: dict[str, Any] = json.loads(body)
    return record


def pending_promotion(settings: Settings, name: str) -> dict[str, Any] | None:
    """The intent of an interrupted promotion of `name`, or None. Quick to fail: one try, short timeouts."""
    s3 = aws_client("s3", settings, connect_timeout=3, read_timeout=10, max_attempts=1)
    return _get(s3, settings, pending_key(name))


def _tag(registry: Registry, record: dict[str, Any]) -> None:
    text = json.dumps(record, sort_keys=True)
    registry.client.set_model_version_tag(record["model"], record["to_version"], Tags.PROMOTED, text)
    registry.client.set_registered_model_tag(record["model"], Tags.LAST_PROMOTION, text)


def repair(settings: Settings, registry: Registry, s3: Any, name: str) -> dict[str, Any] | None:
    """Settle an interrupted promotion of `name` (call under the promotion lock): finish it, undo it, or record a
    conflict, so that the audit trail and the aliases agree. Returns the settled record, or None."""
    intent = _get(s3, settings, pending_key(name))
    if intent is None:
        return None
    key = intent["audit_key"]
    done = _get(s3, settings, key)
    if done is not None and done.get("status") == "done":  # killed after the record, before the intent went
        s3.delete_object(Bucket=settings.data_bucket, Key=pending_key(name))
        return done
    alias = intent["alias"]
    champion = registry.alias_version(name, alias)
    if champion == intent["to_version"]:
        if intent["from_version"] is not None:
            registry.set_alias(name, PREVIOUS_ALIAS, intent["from_version"])
        status, note = "done", f"completed by repair: @{alias} had moved to {champion} before the interruption"
    elif champion == intent["from_version"]:
        registry.set_alias(name, PREVIOUS_ALIAS, intent["old_previous"])
        status, note = "aborted", f"interrupted before @{alias} moved; @{alias} stays {champion}, nothing changed"
    else:
        status, note = (
            "conflict",
            (
                f"@{alias} is {champion}, neither {intent['from_version']} nor {intent['to_version']}: moved by "
                "someone else meanwhile; aliases left as they are"
            ),
        )
    record = {**intent, "status": status, "repair": {"at": _now(), "by": _actor(settings), "note": note}}
    record["audit_uri"] = _put(s3, settings, key, record)
    if status == "done":
        _tag(registry, record)
    s3.delete_object(Bucket=settings.data_bucket, Key=pending_key(name))
    log.warning("interrupted promotion repaired", extra={"audit": record})
    return record


def objections(registry: Registry, name: str, version: str) -> list[str]:
    """Why `version` should not become the champion: the gate rejected it, or its model cannot be fetched (no
    MLmodel at its artifact location). Empty when there is nothing against it."""
    import tempfile

    from mlflow.artifacts import download_artifacts

    found = []
    tags = dict(registry.resolve(ModelRef(name, version=version)).tags)
    if tags.get(Tags.GATE_DECISION) == "rejected":
        reasons = "; ".join(json.loads(tags.get(Tags.GATE_REASONS, "[]"))) or "no reason recorded"
        found.append(f"the gate rejected it ({reasons})")
    try:
        location = registry.client.get_model_version_download_uri(name, version)
        with tempfile.TemporaryDirectory() as scratch:
            download_artifacts(artifact_uri=location.rstrip("/") + "/MLmodel", dst_path=scratch)
    except Exception as exc:  # noqa: BLE001 - whatever the store says, the model cannot be loaded from there
        found.append(f"its artifacts cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})")
    return found


def _move(
    settings: Settings,
    name: str,
    action: str,
    target: str | None,
    reason: str,
    expected_champion: Any = ANY,
    force: bool = False,
) -> dict[str, Any]:
    """Move the champion of `name` to `target` (None: to the `previous` version, a rollback). A promotion of a
    version with objections (see `objections`) needs `force`, and the audit record keeps them."""
    if not reason.strip():
        raise MlopsError("a reason is required for the audit record (--reason)")
    champion = settings.champion_alias
    registry = Registry(settings=settings)
    overridden: list[str] = []
    if target is not None:
        registry.resolve(ModelRef(name, version=target))  # the version must exist
        overridden = objections(registry, name, target)
        if overridden and not force:
            raise MlopsError(
                f"not promoting version {target} of {name!r}: {'; '.join(overridden)}. "
                "--force promotes it anyway and records that in the audit"
            )
    s3 = aws_client("s3", settings)
    with FileLock(lock_path(settings.state_dir, "promote", name), purpose=action).acquire(wait_seconds=30):
        try:
            repaired = repair(settings, registry, s3, name)
        except MlopsError:
            raise
        except Exception as exc:
            raise MlopsError(f"cannot check for an interrupted promotion of {name!r}: {exc}") from None
        if repaired is not None:
            log.info("repaired before moving", extra={"model": name, "status": repaired["status"]})
        current = registry.alias_version(name, champion)
        old_previous = registry.alias_version(name, PREVIOUS_ALIAS)
        if target is None:
            if old_previous is None:
                raise MlopsError(f"model {name!r} has no @{PREVIOUS_ALIAS} version to roll back to")
            target = old_previous
        if expected_champion is not ANY and current != expected_champion:
            raise MlopsError(
                f"the champion of {name!r} moved to version {current} after the gate compared against "
                f"{expected_champion}; not promoting version {target}"
            )
        if current == target:
            raise MlopsError(f"version {target} of {name!r} is already the champion (@{champion})")
        at, record_id = _now(), uuid.uuid4().hex[:12]
        record: dict[str, Any] = {
            "id": record_id,
            "at": at,
            "model": name,
            "alias": champion,
            "action": action,
            "actor": _actor(settings),
            "reason": reason,
            "from_version": current,
            "to_version": target,
            "old_previous": old_previous,
            "audit_key": promotion_audit_key(name, at, record_id),
            "status": "pending",
        }
        if overridden:  # only forced moves carry the field: an ordinary record keeps its shape
            record["forced"] = {"objections": overridden}
        try:
            _put(s3, settings, pending_key(name), record)
        except Exception as exc:  # nothing has moved: no intent, no move
            raise MlopsError(f"audit record not written, so @{champion} stays {current}: {exc}") from None
        _failpoint("intent")
        try:
            if current is not None:
                registry.set_alias(name, PREVIOUS_ALIAS, current)
            _failpoint("previous")
            registry.set_alias(name, champion, target)  # the one atomic switch
            _failpoint("champion")
            record["status"] = "done"
            record["audit_uri"] = _put(s3, settings, record["audit_key"], record)
            _failpoint("audit")
            s3.delete_object(Bucket=settings.data_bucket, Key=pending_key(name))
        except Exception as exc:  # settle it now the way a later repair would; if that fails too, the intent stays
            try:
                settled = repair(settings, registry, s3, name)
            except Exception:  # noqa: BLE001 - the intent stays for the next promote or rollback to repair
                log.exception("promotion interrupted and not repaired", extra={"audit": record})
                settled = None
            state = f"recorded as {settled['status']}" if settled else "left pending for the next promote or rollback"
            raise MlopsError(f"promotion of {name!r} to version {target} failed ({exc}); {state}") from None
        _tag(registry, record)
    log.info("champion moved", extra={"audit": record})
    return record


def promote(
    settings: Settings, name: str, version: str, reason: str, expected_champion: Any = ANY, force: bool = False
) -> dict[str, Any]:
    return _move(settings, name, "promote", str(version), reason, expected_champion, force)


def rollback(settings: Settings, name: str, reason: str) -> dict[str, Any]:
    """champion <- previous; the version rolled away from becomes `previous`, so a rollback can be undone."""
    return _move(settings, name, "rollback", None, reason)

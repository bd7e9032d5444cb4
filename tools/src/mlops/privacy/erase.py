"""Erase one data subject's rows from a model's inference capture and from the labels joined to them.

The subject is named by one input column and its value (`COLUMN=VALUE`). A row matches when its stored value is
what the capture stored for VALUE under the data classes of the model version that wrote the row
(`mlops.core.data_classes`): the keyed hash of VALUE's canonical text for a personal column, the canonical text
itself otherwise. Labels (`labels/<model>/`) hold no inputs: their rows go by the request ids of the erased rows.

Everything is checked and found before anything is written: a bad key, an unknown model or column, a sensitive
column (never stored) or a missing hash key stop the command with nothing changed. Then each affected object is
rewritten whole: the remaining rows go to a new object version at the same key (one PUT: a reader sees the old
object or the new one, never a part), and the version that held the subject is deleted for good (versioning would
otherwise keep it for the bucket's noncurrent days). An object left with no rows is deleted, every version of it
that held the subject included; older versions holding the subject (an erase interrupted between the two steps)
are found and deleted too, so running the command again finishes what a crash left.

An audit record goes to the artifact bucket (`mlops.core.contracts.erasure_audit_key`): who, when, which model and
column, the keyed hash of the value (never the value), and how many rows left which object version.
"""

from __future__ import annotations

import datetime as dt
import getpass
import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import CAPTURE_META_COLUMNS, ENVIRONMENTS, erasure_audit_key
from mlops.core.data_classes import (
    DataClass,
    HashKeyError,
    canonical_text,
    classes_for,
    classes_from_tags,
    load_hash_key,
    pseudonym,
)
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings

log = logging.getLogger("mlops.privacy")
REQUEST_ID, _, MODEL_VERSION = CAPTURE_META_COLUMNS


class EraseError(MlopsError, ValueError):
    """Bad input to an erase; the message names what was wrong. Nothing was changed."""


def parse_key(text: str) -> tuple[str, str]:
    """`COLUMN=VALUE` -> (column, value); the value may contain '=' and may be empty only if stated."""
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise EraseError(f"--key must be COLUMN=VALUE, e.g. customer_id=42 (got {'no' if not sep else 'an empty'} "
                         "column name before '=')")  # fmt: skip
    return column.strip(), value


@dataclass
class Hit:
    """One stored object version and what the subject left in it."""

    kind: str  # "capture" | "labels"
    key: str
    version_id: str | None
    current: bool
    rows: int
    matched: int
    request_ids: list[str] = field(default_factory=list)
    action: str = ""  # rewritten | deleted | version deleted


@dataclass
class Erasure:
    model: str
    column: str
    column_classes: dict[str, DataClass]  # model version -> the column's class there
    key_hash: str
    key_hash_algorithm: str
    hits: list[Hit]
    audit_uri: str = ""

    @property
    def rows(self) -> dict[str, int]:
        return {kind: sum(h.matched for h in self.hits if h.kind == kind) for kind in ("capture", "labels")}

    def summary(self) -> str:
        rows = self.rows
        objects = {kind: len({h.key for h in self.hits if h.kind == kind}) for kind in ("capture", "labels")}
        return (f"erased {rows['capture']} captured rows ({objects['capture']} objects) and {rows['labels']} label "
                f"rows ({objects['labels']} objects) of model {self.model} where {self.column} hashes to "
                f"{self.key_hash[:12]}…; audit record {self.audit_uri}")  # fmt: skip


def _versions(settings: Settings, model: str) -> dict[str, dict[str, DataClass]]:
    """Every registered version of the model -> the data classes it declares."""
    registry = Registry(settings=settings)
    if not registry.exists(model):
        raise EraseError(f"registered model {model!r} does not exist")
    found = registry.client.search_model_versions(f"name='{model}'")
    return {str(v.version): classes_from_tags(v.tags or {}, f"{model} v{v.version}") for v in found}


def _object_versions(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, str | None, bool]]:
    """(key, version id, is current) of every Parquet object version under `prefix`."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            if item["Key"].endswith(".parquet"):
                yield item["Key"], item.get("VersionId"), bool(item.get("IsLatest"))


def _read(s3: Any, bucket: str, key: str, version_id: str | None) -> Any:
    import pyarrow.parquet as pq

    extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
    body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
    return pq.read_table(io.BytesIO(body))


class _Matcher:
    """What the subject's value looks like in rows written by each model version."""

    def __init__(self, column: str, value: str, classes: dict[str, dict[str, DataClass]], key: bytes | None):
        self.column, self.value = column, value
        self.by_version = {v: classes_for([column], declared)[column] for v, declared in classes.items()}
        self.default = classes_for([column], {})[column]  # rows of a version no longer registered
        self.hashed = pseudonym(key, value) if key else None

    def expected(self, version: str | None) -> str | None:
        data_class = self.by_version.get(str(version), self.default)
        return self.hashed if data_class == "personal" else self.value

    def mask(self, table: Any) -> list[bool]:
        cells = table.column(self.column).to_pylist()
        has_versions = MODEL_VERSION in table.column_names
        versions = table.column(MODEL_VERSION).to_pylist() if has_versions else [None] * len(cells)
        return [
            cell is not None and canonical_text(cell) == self.expected(v)
            for cell, v in zip(cells, versions, strict=True)
        ]


def erase(settings: Settings, model: str, key_text: str, env: str | None = None) -> Erasure:
    """Find, then erase; see the module docstring. Raises EraseError (nothing changed) on bad input."""
    column, value = parse_key(key_text)
    if env is not None and env not in ENVIRONMENTS:
        raise EraseError(f"--env {env!r} is not an environment: expected one of {', '.join(ENVIRONMENTS)}")
    classes = _versions(settings, model)
    s3 = aws_client("s3", settings)
    bucket = settings.capture_bucket

    # pass 1: read every version of every object (keeping only the columns the match needs), learn the columns,
    # find the subject; nothing is written
    slim = []
    columns: set[str] = set()
    for object_key, version_id, current in _object_versions(s3, bucket, f"capture/{model}/"):
        table = _read(s3, bucket, object_key, version_id)
        columns.update(table.column_names)
        if column in table.column_names:
            wanted = [c for c in dict.fromkeys([column, REQUEST_ID, MODEL_VERSION]) if c in table.column_names]
            slim.append((object_key, version_id, current, table.num_rows, table.select(wanted)))
    inputs = sorted((columns | {c for declared in classes.values() for c in declared}) - _not_inputs())
    column_classes = {v: classes_for([column], declared)[column] for v, declared in classes.items()}
    if column not in inputs:
        raise EraseError(f"model {model!r} has no column {column!r} in its capture or data classes "
                         f"(columns: {', '.join(inputs) or 'none captured yet'})")  # fmt: skip
    if column_classes and all(k == "sensitive" for k in column_classes.values()):
        raise EraseError(f"column {column!r} of model {model!r} is sensitive: the capture never stores it, so no row "
                         "can be found by it; erase by another column (or by request_id)")  # fmt: skip
    needs_key = "personal" in column_classes.values() or classes_for([column], {})[column] == "personal"
    key = load_hash_key(settings)
    if needs_key and key is None:
        raise HashKeyError(f"column {column!r} is personal: its values are stored hashed, and finding them needs the "
                           "key: set MLOPS_CAPTURE_HASH_KEY_PARAMETER")  # fmt: skip
    matcher = _Matcher(column, value, classes, key)
    hits: list[Hit] = []
    masks: dict[tuple[str, str | None], list[bool]] = {}
    for object_key, version_id, current, rows, table in slim:
        mask = matcher.mask(table)
        if any(mask):
            ids = [r for r, m in zip(table.column(REQUEST_ID).to_pylist(), mask, strict=True) if m]
            hits.append(Hit("capture", object_key, version_id, current, rows, sum(mask), ids))
            masks[(object_key, version_id)] = mask
    erased_ids = {r for h in hits for r in h.request_ids}
    if erased_ids:
        for object_key, version_id, current in _object_versions(s3, bucket, f"labels/{model}/"):
            table = _read(s3, bucket, object_key, version_id)
            if REQUEST_ID not in table.column_names:
                continue
            mask = [r in erased_ids for r in table.column(REQUEST_ID).to_pylist()]
            if any(mask):
                hits.append(Hit("labels", object_key, version_id, current, table.num_rows, sum(mask)))
                masks[(object_key, version_id)] = mask

    # pass 2: rewrite what holds the subject, each object read again whole (by the version that was matched).
    # Labels first: they are found through the capture's request ids, so a run stopped half way must leave the
    # capture rows in place for the next run to find the labels again.
    for hit in sorted(hits, key=lambda h: h.kind != "labels"):
        _apply(s3, settings, hit, masks[(hit.key, hit.version_id)])

    if key is not None:
        key_hash, algorithm = pseudonym(key, value) or "", "hmac-sha256 (the capture hash key)"
    else:  # no key configured: an unkeyed digest of an id or an e-mail is reversed by trying candidates
        key_hash, algorithm = "", "none (no capture hash key configured: the value is not recorded in any form)"
    result = Erasure(model, column, column_classes, key_hash, algorithm, hits)
    result.audit_uri = _audit(s3, settings, result, env)
    log.info("subject erased", extra={"model": model, "column": column, "rows": result.rows,
                                      "audit_uri": result.audit_uri})  # fmt: skip
    return result


def _not_inputs() -> set[str]:
    from mlops.core.contracts import CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN

    return {*CAPTURE_META_COLUMNS, CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN} - {REQUEST_ID}


def _apply(s3: Any, settings: Settings, hit: Hit, mask: list[bool]) -> None:
    """The current version: its remaining rows become the new current version (one PUT), then the old version is
    deleted for good; no rows left: the object goes. An older version holding the subject: deleted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    bucket = settings.capture_bucket
    old = {"VersionId": hit.version_id} if hit.version_id and hit.version_id != "null" else {}
    if hit.current and hit.matched < hit.rows:
        table = _read(s3, bucket, hit.key, hit.version_id)
        kept = table.filter(pa.array([not m for m in mask]))
        sink = io.BytesIO()
        pq.write_table(kept, sink)
        tags = s3.get_object_tagging(Bucket=bucket, Key=hit.key, **old).get("TagSet", [])
        extra: dict[str, Any] = {"Tagging": urlencode({t["Key"]: t["Value"] for t in tags})} if tags else {}
        if settings.kms_key_arn:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=settings.kms_key_arn)
        s3.put_object(Bucket=bucket, Key=hit.key, Body=sink.getvalue(), **extra)
        hit.action = "rewritten"
        if not old:  # an unversioned bucket: the PUT replaced the only copy
            return
    else:
        hit.action = "deleted" if hit.current else "version deleted"
    s3.delete_object(Bucket=bucket, Key=hit.key, **old)  # by version id: gone for good, no delete marker


def _audit(s3: Any, settings: Settings, result: Erasure, env: str | None) -> str:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = {
        "action": "privacy.erase",
        "actor": settings.actor or getpass.getuser(),
        "at": at,
        "env": env,
        "model": result.model,
        "capture_bucket": settings.capture_bucket,
        "column": result.column,
        "column_class_by_version": result.column_classes,
        "key_hash": result.key_hash,
        "key_hash_algorithm": result.key_hash_algorithm,
        "rows": result.rows,
        "objects": [
            {
                "kind": h.kind,
                "key": h.key,
                "version_id": h.version_id,
                "rows_before": h.rows,
                "rows_removed": h.matched,
                "action": h.action,
            }
            for h in result.hits
        ],  # fmt: skip
    }
    key = erasure_audit_key(result.model, at, uuid.uuid4().hex[:12])
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.kms_key_arn} if settings.kms_key_arn else {}
    s3.put_object(Bucket=settings.artifact_bucket, Key=key, Body=json.dumps(record, indent=2).encode(),
                  ContentType="application/json", **extra)  # fmt: skip
    return f"s3://{settings.artifact_bucket}/{key}"

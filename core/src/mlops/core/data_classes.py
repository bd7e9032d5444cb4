"""Data classes of a model's columns, and the capture policy they give: defined once, used by the model project's
params.yaml (`data.classes`), registration (the model version tag), serving's capture, drift and `mlops privacy`.

- `public`: may be kept as captured; `internal`: the default for every unclassified column, kept;
- `personal`: pseudonymised in the capture with a keyed HMAC-SHA256 (the key is an SSM SecureString, named by
  `MLOPS_CAPTURE_HASH_KEY_PARAMETER`): the same value always gives the same hash, so drift can still count and
  compare values, and nobody without the key can turn a hash back into the value;
- `sensitive`: never captured (the column is dropped).

A column without a declared class is `internal`, unless its name says it holds personal data (email, phone, name,
address, ip, ...): then `personal`, the safer guess. A declared class always wins (`name_length: internal`).

Values are hashed as canonical text (`canonical_text`): strings as they are, whole numbers without a decimal point
(`42`, also for 42.0), other numbers as Python writes them (`1.5`), booleans `true`/`false`. `mlops privacy erase
--key COLUMN=VALUE` hashes VALUE the same way, so VALUE is written in that form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from mlops.core.settings import Settings

DataClass = Literal["public", "internal", "personal", "sensitive"]
DATA_CLASSES: Final[tuple[DataClass, ...]] = ("public", "internal", "personal", "sensitive")  # least restricted first
DEFAULT_CLASS: Final[DataClass] = "internal"
# classes whose columns are stored in the capture (sensitive never is): each has its own retention in S3
STORED_CLASSES: Final[tuple[DataClass, ...]] = ("public", "internal", "personal")

# the model version tag registration writes: JSON {column: class} as params.yaml declares them
DATA_CLASSES_TAG: Final = "mlops.privacy.data_classes"
# the S3 object tag on every capture object: the most restricted class of the columns it stores. The capture
# bucket's lifecycle rules expire objects by it (terraform/modules/s3, variable buckets.*.retention_by_data_class)
OBJECT_TAG: Final = "mlops-data-class"
HASH_ALGORITHM: Final = "hmac-sha256"

# name tokens that mean personal data (the column name split at non-letters and camelCase humps)
_PERSONAL_TOKENS: Final = frozenset(
    {"email", "mail", "phone", "mobile", "name", "firstname", "lastname", "fullname", "surname", "address", "addr",
     "street", "postcode", "zipcode", "zip", "ip", "ipv4", "ipv6", "ssn", "passport", "dob", "birthdate", "iban"}
)  # fmt: skip
_TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


class DataClassError(MlopsError, ValueError):
    """A data class that is not one of the four, or a malformed mapping; the message names the column."""


class HashKeyError(MlopsError):
    """Personal columns are to be captured but the HMAC key is not configured or cannot be read."""


def _rank(data_class: DataClass) -> int:
    return DATA_CLASSES.index(data_class)


def parse_classes(raw: Any, source: str) -> dict[str, DataClass]:
    """`{column: class}` from params.yaml or a tag, checked: every column a non-empty name, every class one of the
    four. `source` names where it came from in the error (e.g. "params.yaml data.classes")."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DataClassError(f"{source} must be a mapping of column: class, got {type(raw).__name__}")
    classes: dict[str, DataClass] = {}
    problems = []
    for column, value in raw.items():
        if not isinstance(column, str) or not column.strip():
            problems.append(f"column {column!r} is not a column name")
        elif value not in DATA_CLASSES:
            problems.append(f"column {column!r} has class {value!r}")
        else:
            classes[column] = cast(DataClass, value)
    if problems:
        raise DataClassError(f"{source}: {'; '.join(problems)}; a class is one of {', '.join(DATA_CLASSES)}")
    return classes


def inferred_class(column: str) -> DataClass:
    """The class of a column nobody classified: personal when its name says so, else the default (internal)."""
    tokens = {t.lower() for t in _TOKEN_SPLIT.split(column) if t}
    joined = re.sub(r"[^a-z0-9]", "", column.lower())
    return "personal" if tokens & _PERSONAL_TOKENS or joined in _PERSONAL_TOKENS else DEFAULT_CLASS


def classes_for(columns: Iterable[str], declared: Mapping[str, DataClass]) -> dict[str, DataClass]:
    """Every column's class: the declared one, else the inferred one."""
    return {c: declared.get(c) or inferred_class(c) for c in columns}


def classes_tag(declared: Mapping[str, DataClass]) -> str:
    """The model version tag value (compact JSON, sorted: the same classes give the same text)."""
    return json.dumps(dict(sorted(declared.items())), separators=(",", ":"))


def classes_from_tags(tags: Mapping[str, str], source: str) -> dict[str, DataClass]:
    """The declared classes a model version carries (none: every column takes its default)."""
    text = tags.get(DATA_CLASSES_TAG)
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise DataClassError(f"{source}: tag {DATA_CLASSES_TAG} is not JSON") from None
    return parse_classes(raw, f"{source} tag {DATA_CLASSES_TAG}")


def canonical_text(value: Any) -> str | None:
    """The text a value is hashed (and matched) as; None for a missing value, which stays missing."""
    if value is None:
        return None
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy scalars
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2**63 else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def pseudonym(key: bytes, value: Any) -> str | None:
    """HMAC-SHA256 of the value's canonical text, as 64 hex digits; None stays None."""
    text = canonical_text(value)
    if text is None:
        return None
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CapturePolicy:
    """What the capture does with each input column, from the columns' classes: keep, hash or drop."""

    classes: dict[str, DataClass]  # every input column
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def build(cls, columns: Iterable[str], declared: Mapping[str, DataClass], key: bytes | None) -> CapturePolicy:
        """Fails closed: personal columns and no key is an error naming them, never a capture of raw values."""
        classes = classes_for(columns, declared)
        policy = cls(classes, key)
        if policy.personal and not key:
            inferred = [c for c in policy.personal if c not in declared]
            why = f" ({', '.join(inferred)} inferred from the name: declare another class if not)" if inferred else ""
            raise HashKeyError(
                f"columns {', '.join(policy.personal)} are personal data{why} and the capture hashes them with a key "
                "nobody configured: set MLOPS_CAPTURE_HASH_KEY_PARAMETER to the SSM SecureString holding it"
            )
        return policy

    @property
    def personal(self) -> list[str]:
        return [c for c, k in self.classes.items() if k == "personal"]

    @property
    def sensitive(self) -> list[str]:
        return [c for c, k in self.classes.items() if k == "sensitive"]

    def kept(self, columns: Iterable[str]) -> list[str]:
        """The columns the capture stores, in order (sensitive ones dropped)."""
        return [c for c in columns if self.classes.get(c, DEFAULT_CLASS) != "sensitive"]

    def value(self, column: str, value: Any) -> Any:
        """A kept column's stored value: hashed when personal, else as it came."""
        if self.classes.get(column) == "personal":
            return pseudonym(cast(bytes, self.key), value)
        return value

    def stored_class(self, columns: Iterable[str]) -> DataClass:
        """The most restricted class among the stored columns (the object's tag, so its retention)."""
        kept = [self.classes.get(c, DEFAULT_CLASS) for c in self.kept(columns)]
        return max(kept, key=_rank) if kept else DEFAULT_CLASS


def load_hash_key(settings: Settings, client: Any = None) -> bytes | None:
    """The HMAC key from the SSM SecureString `MLOPS_CAPTURE_HASH_KEY_PARAMETER` (None when no parameter is set).
    A parameter that cannot be read, or holds fewer than 32 bytes, is an error naming it."""
    name = settings.capture_hash_key_parameter
    if not name:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops.core.clients import aws_client

    ssm = client or aws_client("ssm", settings)
    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise HashKeyError(
            f"the capture hash key {name} (MLOPS_CAPTURE_HASH_KEY_PARAMETER) cannot be read: {code}"
        ) from None
    except BotoCoreError as exc:
        raise HashKeyError(
            f"the capture hash key {name} cannot be read: SSM does not answer ({type(exc).__name__})"
        ) from None
    key = str(value).strip().encode("utf-8")
    if len(key) < 32:
        raise HashKeyError(f"the capture hash key {name} holds {len(key)} bytes; use at least 32 random bytes "
                           "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")  # fmt: skip
    return key

"""Data classes (issue 20, item 2): the one format params.yaml, the version tag, serving, drift and `mlops privacy`
share; the capture policy they give; the keyed hash; the key read from SSM (SSM itself is the local stack's, in
tests/integration/test_privacy_erase.py)."""

from __future__ import annotations

import hashlib
import hmac
import json

import numpy as np
import pytest

from mlops.core.data_classes import (
    DATA_CLASSES_TAG,
    CapturePolicy,
    DataClassError,
    HashKeyError,
    canonical_text,
    classes_for,
    classes_from_tags,
    classes_tag,
    inferred_class,
    load_hash_key,
    parse_classes,
    pseudonym,
)
from mlops.core.settings import get_settings

pytestmark = pytest.mark.unit
KEY = b"k" * 32


def test_a_bad_class_names_the_column_the_class_and_the_choices():
    with pytest.raises(DataClassError) as caught:
        parse_classes({"email": "personal", "segment": "secret", "x1": "internal"}, "params.yaml data.classes")
    message = str(caught.value)
    assert "params.yaml data.classes" in message and "'segment'" in message and "'secret'" in message
    assert "public, internal, personal, sensitive" in message and "email" not in message


@pytest.mark.parametrize("raw", [["email"], "email: personal", 3])
def test_classes_must_be_a_mapping(raw):
    with pytest.raises(DataClassError, match="must be a mapping of column: class"):
        parse_classes(raw, "params.yaml data.classes")


def test_unclassified_columns_are_internal_unless_their_name_says_personal():
    assert [inferred_class(c) for c in ("x1", "segment", "amount", "count", "domain")] == ["internal"] * 5
    personal = ("email", "customerEmail", "phone_number", "first_name", "Address", "client_ip", "zip", "dob")
    assert {inferred_class(c) for c in personal} == {"personal"}
    declared = parse_classes({"first_name": "public", "notes": "sensitive"}, "params")
    assert classes_for(["first_name", "notes", "email", "x"], declared) == {
        "first_name": "public", "notes": "sensitive", "email": "personal", "x": "internal"
    }  # fmt: skip


def test_the_version_tag_round_trips_and_a_broken_one_is_named():
    declared = parse_classes({"b": "personal", "a": "public"}, "params")
    tag = classes_tag(declared)
    assert json.loads(tag) == {"a": "public", "b": "personal"} and tag == classes_tag(dict(reversed(declared.items())))
    assert classes_from_tags({DATA_CLASSES_TAG: tag}, "v1") == declared
    assert classes_from_tags({}, "v1") == {}
    with pytest.raises(DataClassError, match="v3 tag mlops.privacy.data_classes: column 'a' has class 'top'"):
        classes_from_tags({DATA_CLASSES_TAG: '{"a": "top"}'}, "v3")


@pytest.mark.parametrize(
    ("value", "text"),
    [("a@b.c", "a@b.c"), (42, "42"), (42.0, "42"), (np.int64(7), "7"), (1.5, "1.5"), (True, "true"),
     (None, None), (float("nan"), None), (np.float64(2.25), "2.25")],
)  # fmt: skip
def test_values_are_hashed_as_canonical_text(value, text):
    assert canonical_text(value) == text
    expected = None if text is None else hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()
    assert pseudonym(KEY, value) == expected


def test_the_policy_hashes_personal_drops_sensitive_keeps_the_rest():
    declared = parse_classes({"email": "personal", "ssn_note": "sensitive", "segment": "public"}, "params")
    policy = CapturePolicy.build(["email", "ssn_note", "segment", "x1"], declared, KEY)
    assert policy.kept(["email", "ssn_note", "segment", "x1"]) == ["email", "segment", "x1"]
    hashed = policy.value("email", "ann@example.com")
    assert hashed == pseudonym(KEY, "ann@example.com") and len(hashed) == 64 and "ann" not in hashed
    assert policy.value("segment", "a") == "a" and policy.value("x1", 0.5) == 0.5
    assert policy.stored_class(["email", "ssn_note", "segment", "x1"]) == "personal"
    assert policy.stored_class(["segment", "x1"]) == "internal"
    assert CapturePolicy.build(["segment"], declared, None).stored_class(["segment"]) == "public"
    assert pseudonym(b"another-key-another-key-another-k", "ann@example.com") != hashed


def test_personal_columns_without_a_key_fail_closed_naming_them():
    with pytest.raises(HashKeyError) as caught:
        CapturePolicy.build(["email", "x1"], {}, None)
    message = str(caught.value)
    assert "email" in message and "inferred from the name" in message
    assert "MLOPS_CAPTURE_HASH_KEY_PARAMETER" in message and "x1" not in message
    assert CapturePolicy.build(["x1", "segment"], {}, None).personal == []  # nothing to hash: no key needed


class _Ssm:
    """Stands in for the SSM client only in this in-process test; the real one is exercised on the local stack."""

    def __init__(self, value: str | None):
        self.value, self.asked = value, []

    def get_parameter(self, Name: str, WithDecryption: bool):  # noqa: N803 - boto3's argument names
        from botocore.exceptions import ClientError

        self.asked.append((Name, WithDecryption))
        if self.value is None:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": "x"}}, "GetParameter")
        return {"Parameter": {"Value": self.value}}


def test_the_key_comes_decrypted_from_the_named_parameter_and_bad_ones_are_named():
    settings = get_settings(capture_hash_key_parameter="/mlops/capture/hash-key")
    ssm = _Ssm("0123456789abcdef" * 4 + "\n")
    assert load_hash_key(settings, ssm) == ("0123456789abcdef" * 4).encode()
    assert ssm.asked == [("/mlops/capture/hash-key", True)]
    with pytest.raises(HashKeyError, match=r"/mlops/capture/hash-key .*cannot be read: ParameterNotFound"):
        load_hash_key(settings, _Ssm(None))
    with pytest.raises(HashKeyError, match="holds 5 bytes; use at least 32"):
        load_hash_key(settings, _Ssm("short"))
    assert load_hash_key(get_settings(), _Ssm(None)) is None  # no parameter configured: no key, no call


def test_the_capture_buckets_retention_rules_match_the_tag_and_the_classes_serving_writes():
    """terraform/modules/s3 expires capture objects by the tag serving writes, one rule per stored class."""
    import re

    from mlops.core.data_classes import OBJECT_TAG, STORED_CLASSES
    from mlops.core.terraform import TERRAFORM_DIR

    module = TERRAFORM_DIR / "modules" / "s3"
    assert re.search(rf'key\s+=\s+"{OBJECT_TAG}"', (module / "main.tf").read_text())
    default = re.search(r"retention_by_data_class = \{([^}]*)\}", (module / "variables.tf").read_text())
    assert default is not None
    assert sorted(re.findall(r"(\w+)\s*=\s*\d+", default.group(1))) == sorted(STORED_CLASSES)

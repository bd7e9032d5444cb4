"""Signing the evidence pack with an asymmetric AWS KMS key (SIGN_VERIFY; ECC or RSA): KMS signs the evidence file's
sha256 digest (MessageType DIGEST), the manifest carries the signature, and the deploy asks KMS to verify it
against the key it expects. The private key never leaves KMS; who may sign is the key policy's business."""

from __future__ import annotations

import base64
from typing import Any

from mlops.core.clients import aws_client
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.release.manifest import EvidenceRef, Signature

_INVALID = "the evidence signature does not verify: the evidence digest in the manifest was changed"
_PREFERRED = ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256")


def _kms_error(what: str, key_id: str, exc: Exception) -> MlopsError:
    return MlopsError(f"KMS cannot {what} with key {key_id}: {exc}")


def signing_key(kms: Any, key_id: str) -> tuple[str, str]:
    """The key's ARN and the SHA-256 algorithm to sign with; refused unless it is an enabled SIGN_VERIFY key."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except (BotoCoreError, ClientError) as exc:
        raise _kms_error("describe", key_id, exc) from None
    if meta.get("KeyUsage") != "SIGN_VERIFY" or meta.get("KeyState") != "Enabled":
        raise MlopsError(f"KMS key {key_id} is not an enabled SIGN_VERIFY key ({meta.get('KeyUsage')}, "
                         f"{meta.get('KeyState')}): the evidence needs an asymmetric signing key")  # fmt: skip
    algorithms = [a for a in _PREFERRED if a in meta.get("SigningAlgorithms", [])]
    if not algorithms:
        raise MlopsError(f"KMS key {key_id} offers no SHA-256 signing algorithm ({meta.get('SigningAlgorithms')})")
    return meta["Arn"], algorithms[0]


def sign(settings: Settings, key_id: str, sha256: str) -> Signature:
    from botocore.exceptions import BotoCoreError, ClientError

    kms = aws_client("kms", settings)
    arn, algorithm = signing_key(kms, key_id)
    try:
        signed = kms.sign(KeyId=arn, Message=bytes.fromhex(sha256), MessageType="DIGEST", SigningAlgorithm=algorithm)
    except (BotoCoreError, ClientError) as exc:
        raise _kms_error("sign", key_id, exc) from None
    return Signature(key_id=arn, algorithm=algorithm, value=base64.b64encode(signed["Signature"]).decode())


def verify(settings: Settings, ref: EvidenceRef, expected_key: str | None, source: str) -> str:
    """Check the manifest's signature of its evidence digest; what to tell the user. With `expected_key`, an
    unsigned pack or one signed by another key is refused."""
    from botocore.exceptions import BotoCoreError, ClientError

    signature = ref.signature
    if signature is None:
        if expected_key:
            raise MlopsError(f"{source}: the evidence is not signed, but key {expected_key} is required")
        return "evidence not signed"
    kms = aws_client("kms", settings)
    if expected_key and signing_key(kms, expected_key)[0] != signature.key_id:
        raise MlopsError(f"{source}: the evidence was signed by {signature.key_id}, not by {expected_key}")
    try:
        answer = kms.verify(
            KeyId=signature.key_id,
            Message=bytes.fromhex(ref.sha256),
            MessageType="DIGEST",
            Signature=base64.b64decode(signature.value),
            SigningAlgorithm=signature.algorithm,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "KMSInvalidSignatureException":
            raise MlopsError(f"{source}: {_INVALID}") from None
        raise _kms_error("verify", signature.key_id, exc) from None
    except (BotoCoreError, ValueError) as exc:
        raise _kms_error("verify", signature.key_id, exc) from None
    if not answer.get("SignatureValid"):
        raise MlopsError(f"{source}: {_INVALID}")
    if expected_key is None:  # the signature matches, but nothing says that key is the one that may sign
        return f"evidence signed by {signature.key_id} ({signature.algorithm}): valid, key not pinned (--signing-key)"
    return f"evidence signed by {signature.key_id} ({signature.algorithm}): verified"

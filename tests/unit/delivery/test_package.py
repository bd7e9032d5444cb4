"""`mlops deploy package` in-process: versions, the manifest, the lock's pins, the hosts' wheel tags, and publishing
to S3 (moto's in-process emulator): the manifest last, a version immutable, a failed upload leaving no manifest.
The build, `pip download` and the boot from the published package run for real in
tests/integration/test_ec2_boot.py."""

from __future__ import annotations

import hashlib
import re

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from moto import mock_aws

from mlops.delivery.cli import deploy
from mlops.delivery.package import (
    MANIFEST,
    PackageError,
    _strip_hashes,
    check_version,
    manifest_text,
    package_prefix,
    publish,
    target_platforms,
)

pytestmark = pytest.mark.unit

BUCKET = "mlops-dev-artifacts"
# what the user data accepts as a manifest line (terraform/modules/serving-asg/templates/user-data.sh.tftpl)
MANIFEST_LINE = re.compile(r"^[0-9a-f]{64}  [A-Za-z0-9][A-Za-z0-9._+-]*$")


@pytest.mark.parametrize("version", ["4f2c9e1", "v1.4.0", "0.2.0-rc_1", "a" * 128])
def test_a_commit_or_tag_is_a_version(version):
    assert check_version(version) == version
    assert package_prefix(version) == f"packages/serving/{version}/"


@pytest.mark.parametrize("version", ["", "../mlflow", "a/b", "-rf", "v 1", "a" * 129])
def test_anything_else_is_refused_naming_it(version):
    with pytest.raises(PackageError, match="is not a commit or tag"):
        check_version(version)


@pytest.fixture
def wheelhouse(tmp_path):
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    (folder / "mlops_serving-0.2.0-py3-none-any.whl").write_bytes(b"serving")
    (folder / "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl").write_bytes(b"numpy")
    (folder / "constraints.txt").write_text("numpy==2.4.6\n")
    return folder


def test_the_manifest_is_what_sha256sum_checks(wheelhouse):
    lines = manifest_text(wheelhouse).splitlines()
    assert [line.split("  ")[1] for line in lines] == sorted(p.name for p in wheelhouse.iterdir())
    for line in lines:
        assert MANIFEST_LINE.fullmatch(line), line
        digest, name = line.split("  ")
        assert digest == hashlib.sha256((wheelhouse / name).read_bytes()).hexdigest()


def test_the_constraints_are_the_locks_pins_without_hashes():
    exported = (
        "numpy==2.4.6 ; python_full_version < '3.12' \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "numpy==2.5.5 ; python_full_version >= '3.12' \\\n"
        "    --hash=sha256:cccc\n"
        "# a comment\n"
        "orjson==3.11.1 \\\n"
        "    --hash=sha256:dddd\n"
    )
    assert _strip_hashes(exported) == (
        "numpy==2.4.6 ; python_full_version < '3.12'\nnumpy==2.5.5 ; python_full_version >= '3.12'\norjson==3.11.1\n"
    )


def test_the_wheels_are_for_amazon_linux_2023():
    platforms = target_platforms()
    assert platforms[0] == "manylinux_2_34_x86_64"  # glibc 2.34, newest first
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64"} <= set(platforms)
    assert not any("2_35" in p or "aarch64" in p for p in platforms)


@pytest.fixture
def s3(monkeypatch):
    # moto in-process: no local stack endpoint, and credentials that reach nothing real
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # pragma: allowlist secret
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_every_file_is_published_and_the_manifest_last(s3, wheelhouse):
    written: list[str] = []  # the order of the writes, as the client sends them (S3's LastModified has 1 s steps)
    for operation in ("PutObject", "CreateMultipartUpload"):
        s3.meta.events.register(
            f"provide-client-params.s3.{operation}", lambda params, **_: written.append(params["Key"])
        )
    done = publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    assert done.uri == f"s3://{BUCKET}/packages/serving/4f2c9e1/" and not done.already
    assert done.files == 3 and done.size_bytes == sum(p.stat().st_size for p in wheelhouse.iterdir())
    names = sorted([*(p.name for p in wheelhouse.iterdir()), MANIFEST])
    assert _keys(s3) == [f"packages/serving/4f2c9e1/{name}" for name in names]
    manifest = s3.get_object(Bucket=BUCKET, Key=f"packages/serving/4f2c9e1/{MANIFEST}")["Body"].read().decode()
    assert manifest == manifest_text(wheelhouse)
    assert sorted(written) == _keys(s3) and written[-1] == f"packages/serving/4f2c9e1/{MANIFEST}"


def test_the_same_files_again_change_nothing(s3, wheelhouse):
    publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    again = publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    assert again.already


def test_a_published_version_is_not_changed(s3, wheelhouse):
    publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    before = s3.get_object(Bucket=BUCKET, Key="packages/serving/4f2c9e1/constraints.txt")["Body"].read()
    (wheelhouse / "constraints.txt").write_text("numpy==2.5.5\n")
    with pytest.raises(PackageError, match="already published with other files.*publish under a new version"):
        publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    assert s3.get_object(Bucket=BUCKET, Key="packages/serving/4f2c9e1/constraints.txt")["Body"].read() == before


class _FailingUpload:
    """The real (in-process moto) client, except that one file's upload fails: a network drop half way."""

    def __init__(self, client, failing_name: str):
        self._client, self._failing = client, failing_name

    def upload_file(self, filename, bucket, key):
        if key.endswith(self._failing):
            raise ClientError({"Error": {"Code": "RequestTimeout", "Message": "dropped"}}, "PutObject")
        return self._client.upload_file(filename, bucket, key)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_an_upload_that_fails_half_way_leaves_no_manifest(s3, wheelhouse):
    failing = "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl"
    with pytest.raises(PackageError) as failed:
        publish(_FailingUpload(s3, failing), BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    assert failing in str(failed.value) and f"{MANIFEST} was not written" in str(failed.value)
    assert f"packages/serving/4f2c9e1/{MANIFEST}" not in _keys(s3)
    # the next attempt completes it
    assert not publish(s3, BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None).already
    assert f"packages/serving/4f2c9e1/{MANIFEST}" in _keys(s3)


def test_a_missing_bucket_is_named(s3, wheelhouse):
    with pytest.raises(PackageError, match="no-such-bucket"):
        publish(s3, "no-such-bucket", "4f2c9e1", wheelhouse, say=lambda _: None)


def test_the_command_refuses_a_bad_version_before_building():
    result = CliRunner().invoke(deploy, ["package", "--env", "dev", "--version", "../mlflow"])
    assert result.exit_code == 2
    assert "--version" in result.output and "is not a commit or tag" in result.output


def test_the_command_names_unreadable_targets(tmp_path):
    targets = tmp_path / "targets.json"
    targets.write_text("{not json")
    result = CliRunner().invoke(deploy, ["package", "--env", "dev", "--version", "4f2c9e1", "--targets", str(targets)])
    assert result.exit_code == 1
    assert "cannot read deploy targets" in result.output and str(targets) in result.output


class _DeniedRead:
    """The real (in-process moto) client, except that reads are refused: AWS's answer for a missing key to a caller
    without s3:ListBucket."""

    def __init__(self, client):
        self._client = client

    def get_object(self, **_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_refused_manifest_read_says_what_the_publisher_needs(s3, wheelhouse):
    with pytest.raises(PackageError, match=f"needs s3:ListBucket on {BUCKET} for packages/serving/"):
        publish(_DeniedRead(s3), BUCKET, "4f2c9e1", wheelhouse, say=lambda _: None)
    assert _keys(s3) == []

"""What is deployed: the env's live release object in S3 (`releases/<model>/<env>.yaml` in the artifact bucket),
the registry alias named after the env (`@staging`, ...) and, when asked, a running server's version.
`release deploy` writes the first two; `release diff` compares all three with the manifest in Git."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from dataclasses import dataclass

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import env_alias, live_release_key
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.release.manifest import Release, parse_release

log = logging.getLogger(__name__)


# object metadata of the live release: "true" when the deploy that published it also rolled it out (--rollout), so
# a later --rollout of the same manifest knows the image already runs rather than only the alias having moved
ROLLED_OUT_METADATA = "rolled-out"


@dataclass(frozen=True)
class LiveRelease:
    release: Release
    rolled_out: bool


def publish(settings: Settings, release: Release, commit: str, rolled_out: bool = False) -> str:
    """Store the applied manifest as the env's live release; the object metadata says who applied which commit,
    and whether that deploy rolled it out."""
    key = live_release_key(release.model.name, release.env)
    metadata = {
        "git-commit": commit,
        "deployed-by": settings.actor or getpass.getuser(),
        "deployed-at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        ROLLED_OUT_METADATA: "true" if rolled_out else "false",
    }
    try:
        aws_client("s3", settings).put_object(
            Bucket=settings.artifact_bucket,
            Key=key,
            Body=release.to_yaml().encode(),
            ContentType="application/yaml",
            Metadata=metadata,
        )
    except Exception as exc:  # botocore errors: a missing bucket, no credentials, an unreachable endpoint
        raise MlopsError(f"cannot publish the live release to s3://{settings.artifact_bucket}/{key}: {exc}") from None
    return f"s3://{settings.artifact_bucket}/{key}"


def read_live(settings: Settings, model: str, env: str) -> Release | None:
    found = read_live_release(settings, model, env)
    return found.release if found else None


def read_live_release(settings: Settings, model: str, env: str) -> LiveRelease | None:
    """The env's live release with how it was applied; None when the env never had one."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = live_release_key(model, env)
    try:
        body = aws_client("s3", settings).get_object(Bucket=settings.artifact_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise MlopsError(f"cannot read s3://{settings.artifact_bucket}/{key}: {exc}") from None
    except BotoCoreError as exc:
        raise MlopsError(f"cannot read s3://{settings.artifact_bucket}/{key}: {exc}") from None
    release = parse_release(body["Body"].read().decode(), f"s3://{settings.artifact_bucket}/{key}")
    return LiveRelease(release, body.get("Metadata", {}).get(ROLLED_OUT_METADATA) == "true")


def move_env_alias(registry: Registry, release: Release) -> str | None:
    """Point `@<env>` at the manifest's version; return the version it pointed at before."""
    name, env, version = release.model.name, release.env, release.model.version
    before = registry.alias_version(name, env_alias(env))
    registry.set_alias(name, env_alias(env), version)
    log.info("env alias moved", extra={"model": name, "env": env, "from_version": before, "to_version": version})
    return before


def server_version(url: str, model: str | None = None, timeout: float = 5.0) -> str | None:
    """The version of `model` a running `mlops serve` reports on its readiness route (shown without a key only when
    the server sets MLOPS_SERVE_PUBLIC_VERSION). A server of several models sends no X-Model-Version header, so with
    `model` given the version comes from the body's `models` map (the header when the body has none); without it,
    from the header as before."""
    import httpx

    ready = url.rstrip("/") + "/health/ready"
    try:
        response = httpx.get(ready, timeout=timeout)
    except httpx.HTTPError as exc:
        raise MlopsError(f"the server at {url} does not answer: {exc}") from None
    if model is None or response.status_code != 200:
        return response.headers.get("x-model-version")
    try:
        body = response.json()
    except ValueError:
        raise MlopsError(f"{ready} answered 200 with a body that is not JSON: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise MlopsError(f"{ready}: expected a JSON object, got {response.text[:200]!r}")
    if "models" not in body:  # a key-less answer without the version, or a server from before several models
        return response.headers.get("x-model-version")
    models = body["models"]
    if not isinstance(models, dict):
        raise MlopsError(f"{ready}: `models` must be an object, got {models!r}")
    entry = models.get(model, {})  # a model this server does not serve: no version
    if not isinstance(entry, dict) or not isinstance(entry.get("version", ""), str):
        raise MlopsError(f"{ready}: models.{model} must be an object with a string `version`, got {entry!r}")
    return entry.get("version")


@dataclass
class Row:
    what: str
    expected: str
    actual: str

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def compare(settings: Settings, registry: Registry, release: Release, server_url: str | None) -> list[Row]:
    """The manifest against the live release object, the env alias and (with server_url) a running server."""
    model, env, version = release.model.name, release.env, release.model.version
    live = read_live(settings, model, env)
    if live is None:
        live_text = "none (never deployed)"
    elif live == release:
        live_text = f"v{live.model.version}"
    else:
        changed = [f for f in Release.model_fields if getattr(live, f) != getattr(release, f)]
        live_text = f"v{live.model.version}, differs in " + ", ".join(changed)
    rows = [
        Row(f"live release s3://{settings.artifact_bucket}/{live_release_key(model, env)}", f"v{version}", live_text),
        Row(f"registry alias {model}@{env}", f"v{version}", _v(registry.alias_version(model, env_alias(env)))),
    ]
    if server_url:
        rows.append(Row(f"server {server_url}", f"v{version}", _v(server_version(server_url, model))))
    return rows


def _v(version: str | None) -> str:
    return f"v{version}" if version is not None else "none"

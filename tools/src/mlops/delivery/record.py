"""Every deploy that changed something writes a record of what went where: env, model version, image digest,
commit, weights, outcome ("promoted", "rolled_back", or "unhealthy": the new color never became healthy, so no
traffic moved; `unhealthy` then names what was not)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops.core.contracts import deploy_record_key
from mlops.delivery.targets import DeployError


@dataclass
class DeployRecord:
    environment: str
    model_name: str
    model_version: str
    image_uri: str
    image_digest: str
    commit: str
    deployed_by: str
    outcome: str
    live_color: str
    weights: list[dict[str, int]] = field(default_factory=list)
    alarm: str | None = None
    unhealthy: list[str] = field(default_factory=list)  # "i-... unused (Target.InvalidState)", ...
    started_at: str = field(default_factory=lambda: now())
    finished_at: str | None = None

    def key(self) -> str:
        return deploy_record_key(self.environment, self.started_at, self.model_name, self.model_version)

    def write(self, s3, bucket: str, local_dir: Path) -> str:
        """Store the record under local_dir (the Jenkins artifact), then in S3 (the audit trail); its S3 URI.

        Traffic has already moved when this runs, so the local copy comes first and an S3 failure is a DeployError
        that says what is live and where the record is, never a traceback that loses it."""
        from botocore.exceptions import BotoCoreError, ClientError

        self.finished_at = now()
        body = self.body()
        local_dir.mkdir(parents=True, exist_ok=True)
        local = local_dir / Path(self.key()).name
        local.write_text(body)
        try:
            s3.put_object(Bucket=bucket, Key=self.key(), Body=body.encode(), ContentType="application/json")
        except (BotoCoreError, ClientError) as exc:
            raise DeployError(
                f"the deploy finished ({self.outcome}, {self.live_color} live) but its record could not be stored in "
                f"s3://{bucket}: {exc}; the record is in {local}: upload it to {self.key()} by hand"
            ) from None
        return f"s3://{bucket}/{self.key()}"

    def body(self) -> str:
        """The record as stored (JSON): what the release's evidence checksums."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

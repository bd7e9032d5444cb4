"""Every deploy writes a record of what went where: env, model version, image digest, commit, weights, outcome."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None

    def key(self) -> str:
        stamp = self.started_at.replace(":", "").replace("+0000", "Z")
        return f"deploys/{self.environment}/{stamp}-{self.model_name}-v{self.model_version}.json"

    def write(self, s3, bucket: str, local_dir: Path) -> str:
        """Store the record in S3 (the audit trail) and under local_dir (the Jenkins artifact); return its S3 URI."""
        self.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = json.dumps(asdict(self), indent=2, sort_keys=True)
        s3.put_object(Bucket=bucket, Key=self.key(), Body=body.encode(), ContentType="application/json")
        local_dir.mkdir(parents=True, exist_ok=True)
        (local_dir / Path(self.key()).name).write_text(body)
        return f"s3://{bucket}/{self.key()}"

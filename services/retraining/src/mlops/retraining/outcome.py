"""What one retrain came to, whichever backend ran it: the runner returns it, the service reports it, a k8s Job's pod
writes it as its termination message and the submitter reads it back (mlops.retraining.k8s_job)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    model: str
    trigger: str
    status: str  # promoted | rejected | failed | collapsed
    version: str | None = None
    champion: str | None = None
    reasons: list[str] = field(default_factory=list)
    attempts: int = 0
    release: str | None = None  # the release branch proposed after a pass (config `release:`)

    def as_dict(self) -> dict:
        out = {"status": self.status, "version": self.version, "champion": self.champion, "trigger": self.trigger}
        return out | ({"release": self.release} if self.release else {})

"""Git host clients: after a release branch is pushed, ask for review. `plain` works with any remote (it prints the
hint); `github` opens the pull request through the GitHub REST API (GitHub Enterprise: MLOPS_GITHUB_API_URL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from mlops.core.errors import MlopsError
from mlops.core.settings import get_settings
from mlops.core.urls import without_credentials


class GitHost(Protocol):
    """Opens a review request for a pushed release branch; returns what to tell the user (a URL or a hint)."""

    def open_change(
        self, repo_url: str, branch: str, base: str, title: str, body: str, reviewers: list[str]
    ) -> str: ...


class PlainRemote:
    """Any Git remote, no host API: the branch is pushed and the user opens the pull request."""

    def open_change(self, repo_url: str, branch: str, base: str, title: str, body: str, reviewers: list[str]) -> str:
        by = f" by {', '.join(reviewers)}" if reviewers else ""
        return (
            f"branch {branch} pushed to {without_credentials(repo_url)}: open a pull request into {base} for review{by}"
        )


_GITHUB_REPO = re.compile(r"[:/](?P<owner>[^/:]+)/(?P<name>[^/]+?)(?:\.git)?/?$")


class GitHub:
    """POST /repos/{owner}/{repo}/pulls, then request the policy's reviewers (as teams: `org/team` or `team`)."""

    def __init__(self, api_url: str, token: str | None, timeout: float = 30.0) -> None:
        if not token:
            raise MlopsError("the github Git host needs a token: set MLOPS_GITHUB_TOKEN")
        self.api_url, self.token, self.timeout = api_url.rstrip("/"), token, timeout

    def open_change(self, repo_url: str, branch: str, base: str, title: str, body: str, reviewers: list[str]) -> str:
        match = _GITHUB_REPO.search(without_credentials(repo_url))
        if not match:
            raise MlopsError(f"cannot tell the GitHub owner/repo from {without_credentials(repo_url)}")
        repo = f"{match['owner']}/{match['name']}"
        pull = self._post(f"/repos/{repo}/pulls", {"title": title, "head": branch, "base": base, "body": body})
        if reviewers:
            teams = [r.rsplit("/", 1)[-1] for r in reviewers]
            self._post(f"/repos/{repo}/pulls/{pull['number']}/requested_reviewers", {"team_reviewers": teams})
        return f"pull request {pull['html_url']} opened for review" + (
            f" by {', '.join(reviewers)}" if reviewers else ""
        )

    def _post(self, path: str, payload: dict) -> dict:
        import httpx

        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        try:
            response = httpx.post(self.api_url + path, json=payload, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise MlopsError(f"GitHub API {self.api_url} does not answer: {exc}") from None
        if response.status_code >= 300:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            raise MlopsError(f"GitHub refused POST {path}: HTTP {response.status_code} {detail}".rstrip())
        return response.json()


def _github() -> GitHost:
    settings = get_settings()
    token = settings.github_token.get_secret_value() if settings.github_token else None
    return GitHub(settings.github_api_url, token)


GIT_HOSTS: dict[str, Callable[[], GitHost]] = {"plain": PlainRemote, "github": _github}

"""A local HTTP stand-in for the parts of the Jenkins JSON API that `mlops jenkins` uses.

No Jenkins controller can run on this project's machines, so this answers the same calls a controller would
(job and build JSON under api/python, buildWithParameters with a crumb, queue items, progressive console text,
the test report) for jobs whose builds it simulates. It is a stand-in for Jenkins only; `mlops jenkins` and
jenkinsapi run unmodified against it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

CRUMB = {"crumbRequestField": "Jenkins-Crumb", "crumb": "c0ffee"}


class Build:
    """A simulated build: console lines appear over `duration` seconds; FAIL_TESTS=1 makes it UNSTABLE."""

    def __init__(self, job: Job, number: int, parameters: dict[str, str], duration: float = 1.0):
        self.job, self.number, self.parameters = job, number, parameters
        self.started = time.time()
        self.duration = duration
        failing = parameters.get("FAIL_TESTS") == "1"
        self.lines = ["Started by user ci\n", *(f"param {k}={v}\n" for k, v in sorted(parameters.items()))]
        self.lines += ["+ make test-unit\n", "collected 3 items\n", "Finished: " + self.final_result + "\n"]
        self.cases = [
            {"className": "tests.unit.test_cli", "name": "test_help", "status": "PASSED"},
            {"className": "tests.unit.test_cli", "name": "test_usage", "status": "FAILED" if failing else "PASSED"},
            {"className": "tests.unit.test_gate", "name": "test_floor", "status": "SKIPPED"},
        ]

    @property
    def final_result(self) -> str:
        return "UNSTABLE" if self.parameters.get("FAIL_TESTS") == "1" else "SUCCESS"

    @property
    def building(self) -> bool:
        return time.time() - self.started < self.duration

    def console(self) -> str:
        if not self.building:
            return "".join(self.lines)
        shown = int(len(self.lines) * (time.time() - self.started) / self.duration)
        return "".join(self.lines[:shown])

    def url(self, base: str) -> str:
        return f"{self.job.url(base)}{self.number}/"

    def data(self, base: str) -> dict:
        failed = sum(c["status"] == "FAILED" for c in self.cases)
        skipped = sum(c["status"] == "SKIPPED" for c in self.cases)
        actions = [{"parameters": [{"name": k, "value": v} for k, v in self.parameters.items()]}]
        if not self.building:
            actions.append({"failCount": failed, "skipCount": skipped, "totalCount": len(self.cases)})
        return {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
            "number": self.number,
            "url": self.url(base),
            "fullDisplayName": f"{self.job.name} #{self.number}",
            "building": self.building,
            "result": None if self.building else self.final_result,
            "timestamp": int(self.started * 1000),
            "duration": 0 if self.building else int(self.duration * 1000),
            "actions": actions,
        }


class Job:
    def __init__(self, name: str, parameters: list[str]):
        self.name, self.parameters = name, parameters
        self.builds: list[Build] = []

    def url(self, base: str) -> str:
        return f"{base}/job/{self.name}/"

    def data(self, base: str) -> dict:
        builds = [{"number": b.number, "url": b.url(base)} for b in reversed(self.builds)]
        last = builds[0] if builds else None
        definitions = [{"name": p, "type": "StringParameterDefinition"} for p in self.parameters]
        return {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            "name": self.name,
            "url": self.url(base),
            "color": "blue",
            "actions": [{}],
            "property": [{"parameterDefinitions": definitions}] if definitions else [],
            "builds": builds,
            "firstBuild": builds[-1] if builds else None,
            "lastBuild": last,
            "lastCompletedBuild": last,
        }


class JenkinsStandIn:
    def __init__(self, user: str, token: str):
        self.user, self.token = user, token
        self.jobs: dict[str, Job] = {}
        self.queue: dict[int, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_job(self, name: str, parameters: list[str] | None = None) -> None:
        self.jobs[name] = Job(name, parameters or [])

    def __enter__(self) -> JenkinsStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # the queue item turns into a build on its second poll, as a real queue waits for an executor
    def _queue_data(self, item_id: int) -> dict:
        item = self.queue[item_id]
        job = self.jobs[item["job"]]
        item["polls"] += 1
        if item["build"] is None and item["polls"] > 1:
            item["build"] = Build(job, len(job.builds) + 1, item["parameters"])
            job.builds.append(item["build"])
        executable = item["build"] and {"number": item["build"].number, "url": item["build"].url(self.url)}
        return {
            "id": item_id,
            "task": {"name": job.name, "url": job.url(self.url)},
            "actions": [{"parameters": [{"name": k, "value": v} for k, v in item["parameters"].items()]}],
            "executable": executable,
            "why": None if executable else "Waiting for next available executor",
        }

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _authorized(self) -> bool:
                expected = base64.b64encode(f"{standin.user}:{standin.token}".encode()).decode()
                if self.headers.get("Authorization") == f"Basic {expected}":
                    return True
                self._send(401, {"error": "unauthorized"})
                return False

            def _send(self, status: int, body, headers: dict | None = None) -> None:
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                standin.requests.append(("GET", url.path))
                if not self._authorized():
                    return
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                with standin._lock:
                    self._route_get(parts, parse_qs(url.query))

            def _route_get(self, parts: list[str], query: dict) -> None:
                if parts == ["api", "python"]:
                    jobs = [{"name": j.name, "color": "blue", "url": j.url(standin.url)} for j in standin.jobs.values()]
                    return self._send(200, {"jobs": jobs})
                if parts == ["crumbIssuer", "api", "python"]:
                    return self._send(200, CRUMB)
                if parts[:2] == ["queue", "item"] and int(parts[2]) in standin.queue:
                    return self._send(200, standin._queue_data(int(parts[2])))
                if len(parts) >= 2 and parts[0] == "job" and parts[1] in standin.jobs:
                    job = standin.jobs[parts[1]]
                    if parts[2:] == ["api", "python"]:
                        return self._send(200, job.data(standin.url))
                    if len(parts) >= 3 and parts[2].isdigit() and 0 < int(parts[2]) <= len(job.builds):
                        return self._route_build(job.builds[int(parts[2]) - 1], parts[3:], query)
                return self._send(404, {"error": "not found"})

            def _route_build(self, build: Build, rest: list[str], query: dict) -> None:
                if rest == ["api", "python"]:
                    return self._send(200, build.data(standin.url))
                if rest == ["consoleText"]:
                    return self._send(200, build.console().encode())
                if rest == ["logText", "progressiveText"]:
                    start = int(query.get("start", ["0"])[0])
                    text = build.console().encode()
                    headers = {"X-Text-Size": str(len(text))}
                    if build.building:
                        headers["X-More-Data"] = "true"
                    return self._send(200, text[start:], headers)
                if rest == ["testReport", "api", "python"] and not build.building:
                    return self._send(200, {"suites": [{"name": "pytest", "cases": build.cases}]})
                return self._send(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                standin.requests.append(("POST", url.path))
                if not self._authorized():
                    return
                if self.headers.get(CRUMB["crumbRequestField"]) != CRUMB["crumb"]:
                    return self._send(403, {"error": "No valid crumb was included in the request"})
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                parts = url.path.strip("/").split("/")
                if (
                    len(parts) == 3
                    and parts[0] == "job"
                    and parts[1] in standin.jobs
                    and parts[2]
                    in (
                        "build",
                        "buildWithParameters",
                    )
                ):
                    job = standin.jobs[parts[1]]
                    parameters = {k: v[0] for k, v in form.items() if k in job.parameters}
                    with standin._lock:
                        item_id = len(standin.queue) + 1
                        standin.queue[item_id] = {"job": job.name, "parameters": parameters, "polls": 0, "build": None}
                    return self._send(201, b"", {"Location": f"{standin.url}/queue/item/{item_id}/"})
                return self._send(404, {"error": "not found"})

        return Handler

"""A loopback stand-in for the slice of the Kubernetes REST API that `mlops retrain run --backend k8s` uses, for the
official `kubernetes` client to run against unmodified (no cluster can run on this project's machines).

It answers, with bearer-token auth and the API server's Status bodies for errors:
- POST/GET/DELETE /apis/batch/v1/namespaces/{ns}/jobs[/{name}] (409 AlreadyExists, 404 NotFound; DELETE honours
  propagationPolicy: Background and Foreground delete the pods, Orphan leaves them);
- GET .../jobs?watch=true: a chunked stream of JSON watch events from a resourceVersion, filtered by
  `metadata.name=` field selector, ended after timeoutSeconds (or the server's own cap, as an API server ends long
  watches), and a 410 Expired ERROR event for a resource version the server no longer has;
- GET /api/v1/namespaces/{ns}/pods?labelSelector=k=v[,k=v] and GET .../pods/{pod}/log (follow, timestamps,
  sinceSeconds; 400 while the container waits to start).

A submitted Job plays a scripted lifecycle (`PodScript`): its pod is created Pending, runs and prints its log lines
over time, then terminates with an exit code and a termination message (what the container wrote to its
terminationMessagePath; with `FallbackToLogsOnError` and nothing written, a failed container's log tail, as the
kubelet does), and the Job ends Complete (SuccessCriteriaMet, Complete) or Failed (FailureTarget, Failed:
BackoffLimitExceeded), as the Job controller of Kubernetes 1.31+ reports it. Not played: scheduling, image pulls,
activeDeadlineSeconds and the TTL controller.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

CONTAINER_LOG_TAIL_LINES = 80  # what the kubelet keeps of the log for FallbackToLogsOnError ...
CONTAINER_LOG_TAIL_BYTES = 2048  # ... whichever is less
# the conditions the Job controller (1.31+) sets, in order, with their reason and message
JOB_COMPLETE = (("SuccessCriteriaMet", "Complete"), "CompletionsReached", "Reached expected number of succeeded pods")
JOB_FAILED = (("FailureTarget", "Failed"), "BackoffLimitExceeded", "Job has reached the specified backoff limit")


@dataclass
class PodScript:
    """What the Job's pod does. exit_code None: it runs until the Job is deleted."""

    log_lines: list[str] = field(default_factory=list)
    exit_code: int | None = 0
    termination_message: str = ""  # what the container wrote to its terminationMessagePath ("" = nothing)
    reason: str | None = None  # the terminated state's reason; default Completed (0) or Error
    pending_seconds: float = 0.1
    line_seconds: float = 0.02


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None
    at: float = field(default_factory=time.monotonic)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(ns: int) -> str:
    seconds, nanos = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _status(code: int, reason: str, message: str, **details: str) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}  # fmt: skip
    if details:
        body["details"] = details
    return body


class KubeApiServer:
    def __init__(self, script: PodScript | None = None, *, max_watch_seconds: float | None = None):
        self.script = script or PodScript()
        self.token = uuid.uuid4().hex  # the bearer token the kubeconfig carries and every request must show
        self.max_watch_seconds = max_watch_seconds  # the server ends every watch after this (None: as asked)
        self.expire_watches = 0  # the next N watches that give a resourceVersion get 410 Expired
        self.requests: list[Request] = []
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.logs: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (ns, pod) -> (time ns, line)
        self._events: list[tuple[int, str, dict[str, Any]]] = []  # (resourceVersion, type, job)
        self._version = 1
        self._changed = threading.Condition()
        self._closing = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> KubeApiServer:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def kubeconfig(self, path: Path, context: str = "stand-in") -> Path:
        """A kubeconfig whose current context is this server with its token, as `aws eks update-kubeconfig`
        writes one for a cluster (there with an exec plugin for the token)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "stand-in", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "stand-in", "user": "stand-in"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # ---- state, as the controllers would change it -----------------------------------------------------------

    def add_job(self, body: dict[str, Any], *, play: bool = False) -> dict[str, Any]:
        """Store a Job (what another client created before); `play` runs its pod's script."""
        with self._changed:
            meta = body["metadata"]
            job = {**body, "metadata": {**meta, "uid": str(uuid.uuid4()), "creationTimestamp": _now(),
                                        "generation": 1}, "status": {}}  # fmt: skip
            self._put_job(job, "ADDED")
        if play:
            threading.Thread(target=self._play, args=(meta["namespace"], meta["name"]), daemon=True).start()
        return job

    def _put_job(self, job: dict[str, Any], event: str) -> None:
        """Under the lock: store the Job with a new resourceVersion and record the watch event."""
        self._version += 1
        job["metadata"]["resourceVersion"] = str(self._version)
        key = (job["metadata"]["namespace"], job["metadata"]["name"])
        if event == "DELETED":
            self.jobs.pop(key, None)
        else:
            self.jobs[key] = job
        self._events.append((self._version, event, json.loads(json.dumps(job))))
        self._changed.notify_all()

    def _update_job(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        job = self.jobs.get((namespace, name))
        if job is None:
            return False
        job = {**job, "metadata": dict(job["metadata"]), "status": {**job["status"], **status}}
        self._put_job(job, "MODIFIED")
        return True

    def _play(self, namespace: str, name: str) -> None:
        script = self.script
        with self._changed:
            job = self.jobs[(namespace, name)]
            pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
            container = job["spec"]["template"]["spec"]["containers"][0]
            labels = {**job["spec"]["template"]["metadata"].get("labels", {}), "job-name": name,
                      "batch.kubernetes.io/job-name": name, "controller-uid": job["metadata"]["uid"]}  # fmt: skip
            self.pods[(namespace, pod_name)] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "namespace": namespace,
                    "labels": labels,
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": _now(),
                    "resourceVersion": str(self._version),
                },  # fmt: skip
                "spec": job["spec"]["template"]["spec"],
                "status": {
                    "phase": "Pending",
                    "containerStatuses": [
                        self._container_status(container, {"waiting": {"reason": "ContainerCreating"}})
                    ],
                },  # fmt: skip
            }
            self.logs[(namespace, pod_name)] = []
            self._update_job(namespace, name, {"active": 1, "startTime": _now()})
        time.sleep(script.pending_seconds)
        with self._changed:
            if not self._set_pod(namespace, pod_name, "Running", {"running": {"startedAt": _now()}}):
                return
        for line in script.log_lines:
            with self._changed:
                if (namespace, pod_name) not in self.pods:
                    return
                self.logs[(namespace, pod_name)].append((time.time_ns(), line))
                self._changed.notify_all()
            time.sleep(script.line_seconds)
        if script.exit_code is None:
            return  # runs until the Job is deleted
        with self._changed:
            self._terminate(namespace, name, pod_name, container, script)

    def _terminate(self, namespace: str, name: str, pod_name: str, container: dict, script: PodScript) -> None:
        code = script.exit_code or 0
        message = script.termination_message
        if not message and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            tail = "\n".join(line for _, line in self.logs[(namespace, pod_name)][-CONTAINER_LOG_TAIL_LINES:])
            message = tail.encode()[-CONTAINER_LOG_TAIL_BYTES:].decode(errors="ignore")
        terminated = {"exitCode": code, "reason": script.reason or ("Completed" if code == 0 else "Error"),
                      "startedAt": _now(), "finishedAt": _now()}  # fmt: skip
        if message:
            terminated["message"] = message
        if not self._set_pod(namespace, pod_name, "Succeeded" if code == 0 else "Failed", {"terminated": terminated}):
            return
        kinds, reason, text = JOB_COMPLETE if code == 0 else JOB_FAILED
        counts = {"succeeded": 1} if code == 0 else {"failed": 1}
        found = [{"type": kind, "status": "True", "reason": reason, "message": text, "lastProbeTime": _now(),
                  "lastTransitionTime": _now()} for kind in kinds]  # fmt: skip
        self._update_job(namespace, name, {"active": 0, "ready": 0, **counts, "conditions": found,
                                           **({"completionTime": _now()} if code == 0 else {})})  # fmt: skip

    def _set_pod(self, namespace: str, pod_name: str, phase: str, state: dict[str, Any]) -> bool:
        pod = self.pods.get((namespace, pod_name))
        if pod is None:
            return False
        container = pod["spec"]["containers"][0]
        pod["status"] = {"phase": phase, "containerStatuses": [self._container_status(container, state)]}
        self._version += 1
        pod["metadata"]["resourceVersion"] = str(self._version)
        self._changed.notify_all()
        return True

    @staticmethod
    def _container_status(container: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        return {"name": container["name"], "image": container["image"], "imageID": "", "ready": "running" in state,
                "restartCount": 0, "started": "running" in state, "state": state}  # fmt: skip

    def delete_job(self, namespace: str, name: str, propagation: str | None) -> dict[str, Any] | None:
        with self._changed:
            job = self.jobs.get((namespace, name))
            if job is None:
                return None
            self._put_job({**job, "metadata": dict(job["metadata"])}, "DELETED")
            if propagation in ("Background", "Foreground"):
                for key, pod in list(self.pods.items()):
                    if pod["metadata"]["labels"].get("batch.kubernetes.io/job-name") == name and key[0] == namespace:
                        del self.pods[key]
                self._changed.notify_all()
            return job

    # ---- HTTP ------------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the client expects

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _start_stream(self, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _end_stream(self) -> None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _request(self, method: str) -> tuple[list[str], dict[str, list[str]]] | None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization")
                server.requests.append(Request(method, url.path, query, body, auth))
                if auth != f"Bearer {server.token}":
                    self._send(401, _status(401, "Unauthorized", "Unauthorized"))
                    return None
                return url.path.strip("/").split("/"), query

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                found = self._request("POST")
                if found is None:
                    return
                parts, _ = found
                body = server.requests[-1].body
                match parts:
                    case ["apis", "batch", "v1", "namespaces", namespace, "jobs"]:
                        name = (body or {}).get("metadata", {}).get("name")
                        if not name or body.get("kind") != "Job":
                            return self._send(400, _status(400, "BadRequest", "a Job with metadata.name expected"))
                        if body["metadata"].get("namespace", namespace) != namespace:
                            return self._send(
                                400,
                                _status(
                                    400,
                                    "BadRequest",
                                    "the namespace of the provided "
                                    "object does not match the namespace sent on the request",
                                ),
                            )
                        if (namespace, name) in server.jobs:
                            message = f'jobs.batch "{name}" already exists'
                            return self._send(409, _status(409, "AlreadyExists", message, name=name, group="batch",
                                                           kind="jobs"))  # fmt: skip
                        job = server.add_job({**body, "metadata": {**body["metadata"], "namespace": namespace}},
                                             play=True)  # fmt: skip
                        return self._send(201, job)
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))

            def do_DELETE(self) -> None:  # noqa: N802
                found = self._request("DELETE")
                if found is None:
                    return
                parts, query = found
                body = server.requests[-1].body or {}
                match parts:
                    case ["apis", "batch", "v1", "namespaces", namespace, "jobs", name]:
                        propagation = body.get("propagationPolicy") or query.get("propagationPolicy", [None])[0]
                        if server.delete_job(namespace, name, propagation) is None:
                            return self._send(404, _status(404, "NotFound", f'jobs.batch "{name}" not found'))
                        details = {"name": name, "group": "batch", "kind": "jobs"}
                        return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Success", "details": details})  # fmt: skip
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))

            def do_GET(self) -> None:  # noqa: N802
                found = self._request("GET")
                if found is None:
                    return
                parts, query = found
                match parts:
                    case ["apis", "batch", "v1", "namespaces", namespace, "jobs"]:
                        if query.get("watch", ["false"])[0].lower() == "true":
                            return self._watch_jobs(namespace, query)
                        with server._changed:
                            items = [j for (ns, _), j in server.jobs.items() if ns == namespace]
                            return self._send(
                                200,
                                {
                                    "kind": "JobList",
                                    "apiVersion": "batch/v1",
                                    "items": items,
                                    "metadata": {"resourceVersion": str(server._version)},
                                },
                            )
                    case ["apis", "batch", "v1", "namespaces", namespace, "jobs", name]:
                        with server._changed:
                            job = server.jobs.get((namespace, name))
                        if job is None:
                            return self._send(404, _status(404, "NotFound", f'jobs.batch "{name}" not found'))
                        return self._send(200, job)
                    case ["api", "v1", "namespaces", namespace, "pods"]:
                        selector = dict(
                            term.split("=", 1) for term in query.get("labelSelector", [""])[0].split(",") if term
                        )
                        with server._changed:
                            items = [
                                p for (ns, _), p in server.pods.items()
                                if ns == namespace and selector.items() <= p["metadata"]["labels"].items()
                            ]  # fmt: skip
                            return self._send(
                                200,
                                {
                                    "kind": "PodList",
                                    "apiVersion": "v1",
                                    "items": items,
                                    "metadata": {"resourceVersion": str(server._version)},
                                },
                            )
                    case ["api", "v1", "namespaces", namespace, "pods", pod, "log"]:
                        return self._pod_log(namespace, pod, query)
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))

            def _watch_jobs(self, namespace: str, query: dict[str, list[str]]) -> None:
                selector = query.get("fieldSelector", [""])[0]
                wanted = selector.split("=", 1)[1] if selector.startswith("metadata.name=") else None
                since = query.get("resourceVersion", [""])[0]
                timeout = float(query.get("timeoutSeconds", ["1800"])[0])
                if server.max_watch_seconds is not None:
                    timeout = min(timeout, server.max_watch_seconds)
                self._start_stream("application/json")
                with server._changed:
                    if since and server.expire_watches > 0:
                        server.expire_watches -= 1
                        current = server._version
                        error = _status(410, "Expired", f"too old resource version: {since} ({current})")
                        self._chunk(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
                        return self._end_stream()
                    if since:
                        sent = int(since)
                    else:  # no version: the current state first, as ADDED events
                        sent = server._version
                        for (ns, name), job in server.jobs.items():
                            if ns == namespace and wanted in (None, name):
                                self._chunk(json.dumps({"type": "ADDED", "object": job}).encode() + b"\n")
                    ends = time.monotonic() + timeout
                    while not server._closing:
                        for version, kind, job in [e for e in server._events if e[0] > sent]:
                            sent = version
                            meta = job["metadata"]
                            if meta["namespace"] == namespace and wanted in (None, meta["name"]):
                                self._chunk(json.dumps({"type": kind, "object": job}).encode() + b"\n")
                        left = ends - time.monotonic()
                        if left <= 0:
                            break
                        server._changed.wait(left)
                self._end_stream()

            def _pod_log(self, namespace: str, pod: str, query: dict[str, list[str]]) -> None:
                follow = query.get("follow", ["false"])[0].lower() == "true"
                timestamps = query.get("timestamps", ["false"])[0].lower() == "true"
                since = query.get("sinceSeconds", [None])[0]
                after = time.time_ns() - int(since) * 10**9 if since else 0
                with server._changed:
                    found = server.pods.get((namespace, pod))
                    if found is None:
                        return self._send(404, _status(404, "NotFound", f'pods "{pod}" not found'))
                    state = found["status"]["containerStatuses"][0]["state"]
                    if "waiting" in state:
                        message = (f'container "{found["spec"]["containers"][0]["name"]}" in pod "{pod}" is '
                                   f"waiting to start: {state['waiting']['reason']}")  # fmt: skip
                        return self._send(400, _status(400, "BadRequest", message))
                    self._start_stream("text/plain")
                    shown = 0
                    while not server._closing:
                        lines = server.logs.get((namespace, pod), [])
                        for at, line in lines[shown:]:
                            if at >= after:
                                self._chunk(((_stamp(at) + " ") if timestamps else "").encode() + line.encode() + b"\n")
                        shown = len(lines)
                        current = server.pods.get((namespace, pod))
                        if not follow or current is None:
                            break
                        if "terminated" in current["status"]["containerStatuses"][0]["state"]:
                            break
                        server._changed.wait(1.0)
                    self._end_stream()

        return Handler

"""The k8s training backend: one retrain run as a Kubernetes Job on the env's EKS cluster, submitted and watched
with the official Kubernetes Python client (`mlops retrain run --backend k8s`). The Job itself, what its pod runs
and the outcome it hands back are in mlops.retraining.k8s_job.

Submitting: the cluster comes from the kubeconfig (`KUBECONFIG` or ~/.kube/config, the given context or the current
one; on EKS `aws eks update-kubeconfig`), else from the pod's in-cluster service account. The Job is created, then
watched (the client's watch on the Job, reconnecting when the server ends the watch or its resource version has
expired) until it is Complete or Failed or the timeout passes, while the pod's log lines are streamed as they come.
On a timeout, Ctrl-C or SIGTERM the Job is deleted (propagation Background, so the pod goes too), and the interrupt
goes on as in a local retrain. Every API call has a connect and read timeout. The submitter needs, in the namespace:
jobs (batch) create, get, list, watch, delete; pods get, list; pods/log get (a user: an EKS access entry; the
retraining service submitting from its pod: a Role bound to its service account, and an API token mounted, which the
overlay does not do today).

What only a real cluster proves (tests/integration/test_retrain_k8s.py runs the real client against a loopback API
server that plays the Job's lifecycle): that the image pulls and the pod is scheduled with these resources, node
selector and tolerations (on EKS Auto Mode, onto the named node pool, e.g. `karpenter.sh/nodepool`); that the EKS pod
identity webhook projects the IRSA token into a pod of this service account and the role covers the retrain; that the
kubelet writes the termination message from the file and honours activeDeadlineSeconds and the TTL; and that the
submitter's identity may create, watch and delete Jobs and read pods and their logs in the namespace (RBAC).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import click

from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import Settings
from mlops.retraining.config import ModelConfig
from mlops.retraining.k8s_job import (
    CONTAINER,
    OUTCOME_FILE_ENV,
    K8sOptions,
    outcome_from_message,
    render_job,
)
from mlops.retraining.outcome import Outcome

if TYPE_CHECKING:
    from kubernetes import client as k8s_client

log = logging.getLogger(__name__)

JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"  # set by the Job controller on its pods

CONNECT_TIMEOUT_SECONDS: Final = 5.0
READ_TIMEOUT_SECONDS: Final = 30.0
WATCH_WINDOW_SECONDS: Final = 300  # a watch the server ends after this is reopened from the last resource version
LOG_READ_TIMEOUT_SECONDS: Final = 120.0  # a quiet training step: the log stream is reopened, no line repeated
LOG_DRAIN_SECONDS: Final = 10.0  # after the Job finished, the last log lines may still be on their way
POD_POLL_SECONDS: Final = 1.0
LOST_CONTACT_ATTEMPTS: Final = 5  # consecutive failed reconnects while watching before the submitter gives up


def retrain_on_kubernetes(
    settings: Settings,
    model: ModelConfig,
    trigger: str,
    options: K8sOptions,
    *,
    run_id: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> Outcome:
    """Run the retrain of `model` as a Job and wait for it: promoted or rejected as the pod's retrain decided, or
    failed with the pod's or the Job's reason. MlopsError (nothing created) when no cluster is configured, the
    server cannot be reached (TransientError) or refuses the Job. A timeout deletes the Job and fails the run; Ctrl-C
    and SIGTERM delete it too, then go on (KeyboardInterrupt, SystemExit) as they do in a local retrain."""
    release_env = None
    if model.release is not None:
        if model.release.evidence is not None:
            raise MlopsError(
                f"k8s backend: release evidence {model.release.evidence} is a path on this machine, which the Job "
                "cannot read; propose the release with evidence from here, or retrain with --backend local"
            )
        release_env = model.release.env
    job = render_job(model.name, trigger, options, run_id or uuid.uuid4().hex[:8], release_env=release_env,
                     submitted_by=_submitter(settings))  # fmt: skip
    cluster = _Cluster.connect(options)
    try:
        return _submit_and_wait(cluster, job, model.name, trigger, options.timeout_seconds, echo or _echo)
    finally:
        cluster.close()


def _submit_and_wait(
    cluster: _Cluster, job: dict[str, Any], model: str, trigger: str, timeout: int, say: Callable[[str], None]
) -> Outcome:
    name = job["metadata"]["name"]
    try:
        cluster.create(job)
    except (KeyboardInterrupt, SystemExit):  # the request may have gone through
        cluster.delete(name, "the submitter was interrupted while creating it")
        raise
    say(f"k8s: Job {cluster.namespace}/{name} created on {cluster.host}; waiting for it (at most {timeout} s)")
    follower = _LogFollower(cluster, name, say)
    follower.start()
    try:
        finished = cluster.wait(name, time.monotonic() + timeout)
    except _LostContact as lost:
        follower.stop()
        return Outcome(model, trigger, "failed", reasons=[str(lost)])
    except BaseException:  # Ctrl-C, SIGTERM (SystemExit), or a bug: the Job must not run on unattended
        follower.stop()
        cluster.delete(name, "the submitter was interrupted")
        raise
    if finished is None:
        follower.stop()
        cluster.delete(name, f"no result after {timeout} s")
        reason = f"Job {cluster.namespace}/{name} timed out after {timeout} s and was deleted"
        return Outcome(model, trigger, "failed", reasons=[reason])
    follower.drain(LOG_DRAIN_SECONDS)
    outcome = cluster.result(finished, model, trigger)
    say(f"k8s: Job {cluster.namespace}/{name} {_condition(finished)[0].lower()}: {outcome.status}")
    return outcome


def _echo(line: str) -> None:
    click.echo(line, err=True)


def _submitter(settings: Settings) -> str:
    try:
        return settings.actor or getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


class _LostContact(MlopsError):
    """The API server stopped answering while the Job ran; the Job may still be running."""


def _condition(job: k8s_client.V1Job) -> tuple[str, str]:
    """("Complete" | "Failed", its reason and message), or ("", "") while the Job runs."""
    for condition in (job.status and job.status.conditions) or []:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            detail = ": ".join(part for part in (condition.reason, condition.message) if part)
            return condition.type, detail
    return "", ""


def _configuration(context: str | None) -> k8s_client.Configuration:
    """The kubeconfig's cluster (the given context, else its current one), else the pod's in-cluster account."""
    from kubernetes import client, config

    configuration = client.Configuration()
    # read at call time: the client reads KUBECONFIG once, when it is imported
    paths = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    found = [p for p in paths.split(os.pathsep) if p and os.path.exists(os.path.expanduser(p))]
    if found:
        try:
            config.load_kube_config(config_file=os.pathsep.join(found), context=context,
                                    client_configuration=configuration, persist_config=False)  # fmt: skip
        except (config.ConfigException, ValueError, OSError) as exc:
            where = f"context {context!r} of " if context else ""
            raise MlopsError(f"k8s backend: cannot use {where}kubeconfig {os.pathsep.join(found)}: {exc}") from None
        return configuration
    if context:
        raise MlopsError(
            f"k8s backend: kube context {context!r} asked for, but there is no kubeconfig ({paths}; set KUBECONFIG, "
            "or on EKS run `aws eks update-kubeconfig --name CLUSTER`)"
        )
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as exc:
        raise MlopsError(
            f"k8s backend: no Kubernetes cluster configured: no kubeconfig ({paths}; set KUBECONFIG, or on EKS run "
            f"`aws eks update-kubeconfig --name CLUSTER`) and not inside a pod with a service account token ({exc})"
        ) from None
    return configuration


class _Cluster:
    """The calls the backend makes, each bounded, with the client's errors turned into errors that name the
    server, the namespace and the Job."""

    def __init__(self, configuration: k8s_client.Configuration, namespace: str):
        from kubernetes import client

        configuration.retries = 1  # urllib3: one more try on a refused connection, not its default three
        self.host = configuration.host
        self.namespace = namespace
        self.api = client.ApiClient(configuration)
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.timeout = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)

    @classmethod
    def connect(cls, options: K8sOptions) -> _Cluster:
        return cls(_configuration(options.kube_context), options.namespace)

    def close(self) -> None:
        self.api.close()

    def _where(self, name: str) -> str:
        return f"Job {self.namespace}/{name} on {self.host}"

    def create(self, job: dict[str, Any]) -> str:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, ReadTimeoutError

        name = job["metadata"]["name"]
        try:
            # the client validates the dict into a V1Job and sends it as rendered
            self.batch.create_namespaced_job(self.namespace, job, _request_timeout=self.timeout)  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status == 409:
                raise MlopsError(
                    f"k8s backend: {self._where(name)} already exists; a retrain with this run id was submitted "
                    f"before (`kubectl -n {self.namespace} get job {name}`)"
                ) from None
            raise MlopsError(f"k8s backend: the API server refused {self._where(name)}: {_describe(exc)}") from None
        except HTTPError as exc:
            if not isinstance(exc, ReadTimeoutError) and not isinstance(getattr(exc, "reason", None), ReadTimeoutError):
                raise TransientError(
                    f"k8s backend: cannot reach the API server {self.host}: {_describe(exc)}"
                ) from None
            # sent, but no answer: the Job may exist. One that does is watched; an unknown state is not retried,
            # which could run the retrain twice
            try:
                exists = self.read(name) is not None
            except (ApiException, HTTPError):
                raise MlopsError(
                    f"k8s backend: {self.host} did not answer creating {self._where(name)} within "
                    f"{READ_TIMEOUT_SECONDS} s; it may have been created: `kubectl -n {self.namespace} get job {name}`"
                ) from None
            if not exists:
                raise TransientError(f"k8s backend: {self.host} did not answer creating {self._where(name)}") from None
        log.info("k8s job created", extra={"job": name, "namespace": self.namespace, "host": self.host})
        return str(name)

    def read(self, name: str) -> k8s_client.V1Job | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.batch.read_namespaced_job(name, self.namespace, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def wait(self, name: str, deadline: float) -> k8s_client.V1Job | None:
        """The finished Job (Complete or Failed), or None at the deadline. The watch is reopened from the last
        resource version when the server ends it, and from a fresh read when that version has expired (410)."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        job = None
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                if job is None:  # at the start and after an expiry or a lost connection
                    job = self.read(name)
                    if job is None:
                        raise _LostContact(f"k8s backend: {self._where(name)} was deleted before it finished")
                    if _condition(job)[0]:
                        return job
                window = max(1, min(WATCH_WINDOW_SECONDS, math.ceil(remaining)))
                watcher = watch.Watch()
                for event in watcher.stream(
                    self.batch.list_namespaced_job,
                    self.namespace,
                    field_selector=f"metadata.name={name}",
                    resource_version=job.metadata.resource_version if job.metadata else None,
                    timeout_seconds=window,
                    _request_timeout=(CONNECT_TIMEOUT_SECONDS, window + READ_TIMEOUT_SECONDS),
                ):
                    failures = 0
                    if event["type"] == "DELETED":
                        raise _LostContact(f"k8s backend: {self._where(name)} was deleted before it finished")
                    if event["type"] in ("ADDED", "MODIFIED"):
                        job = event["object"]
                        if _condition(job)[0]:
                            return job
                    if time.monotonic() >= deadline:
                        watcher.stop()
            except ApiException as exc:
                if exc.status != 410:
                    raise _LostContact(f"k8s backend: watching {self._where(name)}: {_describe(exc)}") from None
                log.info("k8s watch expired; reading the job afresh", extra={"job": name})
                job = None
            except HTTPError as exc:
                failures += 1
                if failures >= LOST_CONTACT_ATTEMPTS:
                    raise _LostContact(
                        f"k8s backend: lost the API server while watching {self._where(name)} ({_describe(exc)}); "
                        f"it may still be running: `kubectl -n {self.namespace} get job {name}`"
                    ) from None
                time.sleep(min(2.0**failures, max(0.0, deadline - time.monotonic())))
                job = None

    def pods(self, name: str) -> list[k8s_client.V1Pod]:
        found = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{JOB_NAME_LABEL}={name}", _request_timeout=self.timeout
        )
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        return sorted(found.items, key=lambda p: (p.metadata and p.metadata.creation_timestamp) or epoch)

    def result(self, job: k8s_client.V1Job, model: str, trigger: str) -> Outcome:
        """The pod's outcome (Complete), or why it failed (Failed): the retrain's own reasons when it got as far
        as writing its outcome, else the Job's condition and the pod's exit (with the tail of its log)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        name = _name(job)
        state, detail = _condition(job)
        try:
            pods, unread = self.pods(name), ""
        except (ApiException, HTTPError) as exc:
            pods, unread = [], f" (its pod could not be read: {_describe(exc)})"
        ended = [t for t in (_terminated(p) for p in pods) if t is not None]
        message = ended[-1].message if ended else None
        written = outcome_from_message(message, model, trigger)
        if state == "Complete":
            if written is None:
                reason = (f"{self._where(name)} completed, but its pod left no outcome in its termination message "
                          f"(does the image's mlops write {OUTCOME_FILE_ENV}?){unread}")  # fmt: skip
                return Outcome(model, trigger, "failed", reasons=[reason])
            return written
        reasons = [f"{self._where(name)} failed" + (f": {detail}" if detail else "") + unread]
        if written is not None:
            reasons += written.reasons
            return Outcome(model, trigger, "failed", reasons=reasons, attempts=written.attempts)
        for pod in pods:
            reasons += _pod_reasons(pod)
        return Outcome(model, trigger, "failed", reasons=reasons)

    def delete(self, name: str, why: str) -> None:
        """Delete the Job and (propagation Background) its pod; a failure is logged, not raised: the caller is
        already on its way out with a reason of its own."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.delete_namespaced_job(
                name,
                self.namespace,
                body=client.V1DeleteOptions(propagation_policy="Background"),
                _request_timeout=self.timeout,
            )
            log.warning("k8s job deleted", extra={"job": name, "namespace": self.namespace, "why": why})
        except ApiException as exc:
            if exc.status != 404:  # 404: never created, or gone already
                log.error("cannot delete the k8s job", extra={"job": name, "namespace": self.namespace, "why": why,
                                                              "error": _describe(exc), "alert": True})  # fmt: skip
        except Exception as exc:
            log.error(
                "cannot delete the k8s job",
                extra={"job": name, "namespace": self.namespace, "why": why, "error": str(exc), "alert": True},
            )


def _name(obj: k8s_client.V1Job | k8s_client.V1Pod) -> str:
    return str(obj.metadata.name) if obj.metadata else ""


def _terminated(pod: k8s_client.V1Pod) -> k8s_client.V1ContainerStateTerminated | None:
    for status in (pod.status and pod.status.container_statuses) or []:
        if status.name == CONTAINER and status.state and status.state.terminated:
            return status.state.terminated
    return None


def _pod_reasons(pod: k8s_client.V1Pod) -> list[str]:
    """Why a pod did not succeed: its container's exit (with the log tail the kubelet kept) or why it never
    started (ImagePullBackOff, an unschedulable pod)."""
    name = _name(pod)
    terminated = _terminated(pod)
    if terminated is not None:
        ended = f"pod {name} exited {terminated.exit_code}" + (f" ({terminated.reason})" if terminated.reason else "")
        return [f"{ended}: {terminated.message.strip()}" if terminated.message else ended]
    for status in (pod.status and pod.status.container_statuses) or []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason:
            return [f"pod {name} never ran: {waiting.reason}" + (f": {waiting.message}" if waiting.message else "")]
    for condition in (pod.status and pod.status.conditions) or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return [f"pod {name} was not scheduled: {condition.reason}: {condition.message}"]
    return []


def _describe(exc: BaseException) -> str:
    """The API server's own message (its Status body) or the connection's problem, without object reprs."""
    status = getattr(exc, "status", None)
    if status is not None:
        try:
            body = json.loads(getattr(exc, "body", None) or "")
            return f"{status} {body.get('reason', '')}: {body.get('message', '')}"
        except (ValueError, AttributeError):
            return f"{status} {getattr(exc, 'reason', '')}".strip()
    reason = getattr(exc, "reason", None) or exc
    return re.sub(r"^<[^>]+>: ", "", str(reason))


# ---- the pod's log ---------------------------------------------------------------------------------------------


class _LogFollower:
    """Streams the Job pod's log lines as they come, in a thread beside the watch: waits for the pod to start,
    follows its log, and reopens the stream where it broke off (by timestamp) until the container has ended."""

    def __init__(self, cluster: _Cluster, job: str, echo: Callable[[str], None]):
        self.cluster, self.job, self.echo = cluster, job, echo
        self._stopping = threading.Event()
        self._job_ended = threading.Event()  # a pod not started by now never will; also ends every pause
        self._watch: Any = None
        self._thread = threading.Thread(target=self._run, name=f"k8s-log-{job}", daemon=True)
        self._last = -1  # nanoseconds since the epoch of the last line shown

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._job_ended.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(timeout=CONNECT_TIMEOUT_SECONDS)

    def drain(self, seconds: float) -> None:
        """The Job finished: let the follower show the last lines (the container has ended, so its stream ends)."""
        self._job_ended.set()
        self._thread.join(timeout=seconds)
        self.stop()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                pod = self._started_pod()
                if pod is None:
                    return
                self._follow(_name(pod))
                if self._ended(_name(pod)):
                    return
        except Exception as exc:  # the log is a courtesy: the outcome comes from the Job and the pod's status
            log.warning("k8s log stream stopped", extra={"job": self.job, "error": str(exc)})

    def _started_pod(self) -> k8s_client.V1Pod | None:
        while not self._stopping.is_set():
            for pod in reversed(self._pods()):
                phase = pod.status and pod.status.phase
                if phase in ("Running", "Succeeded", "Failed"):
                    return pod
            if self._job_ended.is_set():
                return None
            self._job_ended.wait(POD_POLL_SECONDS)
        return None

    def _pods(self) -> list[k8s_client.V1Pod]:
        from urllib3.exceptions import HTTPError

        try:
            return self.cluster.pods(self.job)
        except HTTPError:  # the watch in the main thread tells whether the server is gone for good
            return []

    def _ended(self, pod: str) -> bool:
        for found in self._pods():
            if _name(found) == pod:
                phase = found.status.phase if found.status else None
                return _terminated(found) is not None or phase in ("Succeeded", "Failed")
        return True  # the pod is gone

    def _follow(self, pod: str) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        since = None
        if self._last >= 0:  # reopened: from a second before the last line shown, the repeats skipped
            since = max(1, math.ceil(time.time() - self._last / 1e9) + 1)
        self._watch = watch.Watch()
        try:
            for line in self._lines(self._watch, pod, since):
                stamp, _, text = line.partition(" ")
                at = _log_time(stamp)
                if at is not None and at <= self._last:
                    continue
                self._last = at if at is not None else self._last
                self.echo(text)
                if self._stopping.is_set():
                    self._watch.stop()
        except ApiException as exc:
            if exc.status not in (400, 404):  # 400: the container is not running yet; 404: the pod is gone
                raise
            self._job_ended.wait(POD_POLL_SECONDS)
        except HTTPError:  # a read timeout on a quiet step, or a dropped connection: reopen
            self._job_ended.wait(POD_POLL_SECONDS)

    def _lines(self, watcher: Any, pod: str, since: int | None) -> Iterator[str]:
        kwargs: dict[str, Any] = {"since_seconds": since} if since else {}
        return watcher.stream(
            self.cluster.core.read_namespaced_pod_log,
            pod,
            self.cluster.namespace,
            container=CONTAINER,
            timestamps=True,
            _request_timeout=(CONNECT_TIMEOUT_SECONDS, LOG_READ_TIMEOUT_SECONDS),
            **kwargs,
        )


def _log_time(stamp: str) -> int | None:
    """An RFC3339Nano timestamp (the kubelet's, UTC) as nanoseconds since the epoch; None if it is not one."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    try:
        seconds = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC).timestamp()
        return int(seconds) * 10**9 + int((fraction or "0").ljust(9, "0")[:9])
    except ValueError:
        return None

"""Console output is for people (issue 15): a long step is one line (updated in place only on a terminal), and
DVC's output is cleaned into whole lines for the log file, with its error said in one line."""

from __future__ import annotations

import io
import logging
import os
import re
import threading

import pytest

from mlops.training.progress import Steps, duration, files, size
from mlops.training.project import _Output, clean_line, is_progress_bar

pytestmark = pytest.mark.unit
ANSI = re.compile(r"\x1b\[")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _not_verbose(monkeypatch):
    monkeypatch.delenv("MLOPS_VERBOSE", raising=False)


def test_a_step_off_a_terminal_is_one_plain_line():
    out = io.StringIO()
    steps = Steps(out)
    with steps.step("pulling data/raw.csv (1 file, 37.8 kB)") as step:
        step.note("stage prepare")  # only a terminal shows what a step is doing now
        step.result("1 file fetched")
    with pytest.raises(RuntimeError), steps.step("running the pipeline (dvc repro)"):
        raise RuntimeError("boom")
    lines = out.getvalue().split("\n")
    assert re.fullmatch(r"pulling data/raw.csv \(1 file, 37.8 kB\) \.\.\. done in \d+\.\d s: 1 file fetched", lines[0])
    assert re.fullmatch(r"running the pipeline \(dvc repro\) \.\.\. failed after \d+\.\d s", lines[1])
    assert lines[2:] == [""] and "\r" not in out.getvalue() and not ANSI.search(out.getvalue())


def test_on_a_terminal_the_step_line_updates_in_place_and_ends_whole():
    out = Terminal()
    with Steps(out, tick=0.01).step("running the pipeline (dvc repro)") as step:
        step.note("stage train")
        threading.Event().wait(0.05)
        step.result("ran prepare, train, evaluate")
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1 and not ANSI.search(text)
    assert "stage train" in text
    final = text.rstrip("\n").split("\r")[-1].rstrip()
    ended = r"running the pipeline \(dvc repro\) \.\.\. done in \d+\.\d s: ran prepare, train, evaluate"
    assert re.fullmatch(ended, final)


def test_verbose_steps_are_whole_lines_between_the_log_lines(monkeypatch):
    monkeypatch.setenv("MLOPS_VERBOSE", "true")
    out = Terminal()  # even on a terminal: log lines share the console, so nothing is redrawn
    with Steps(out).step("pulling x"):
        pass
    lines = out.getvalue().splitlines()
    assert lines[0] == "pulling x ..." and lines[1].startswith("pulling x: done in ") and "\r" not in out.getvalue()


def test_a_silent_reporter_writes_nothing():
    out = io.StringIO()
    with Steps(out, enabled=False).step("x") as step:
        step.note("y")
    assert out.getvalue() == ""


def test_sizes_and_durations_read_as_people_write_them():
    assert (size(37786), size(512), size(12_400_000), files(1), files(3)) == ("37.8 kB", "512 B", "12.4 MB", "1 file",
                                                                              "3 files")  # fmt: skip
    assert (duration(2.14), duration(125)) == ("2.1 s", "2 min 5 s")


def test_a_progress_bar_collapses_to_what_a_terminal_shows_last():
    raw = "\r!\r \r\r\r!\rCollecting |0.00 [00:00,    ?entry/s]\rCollecting          |1.00 [00:00,  138entry/s]"
    line = clean_line(raw)
    assert line == "Collecting          |1.00 [00:00,  138entry/s]" and is_progress_bar(line)
    assert clean_line("\r!\rFetching\r        \rERROR: failed to connect to s3") == "ERROR: failed to connect to s3"
    assert clean_line("\x1b[31mERROR\x1b[0m: no \x1b]8;;http://x\x07link\x1b]8;;\x07") == "ERROR: no link"
    assert clean_line("\r          \r") == "" and not is_progress_bar("Running stage 'train':")


def _pumped(stdout: bytes, stderr: bytes = b"", on_line=None) -> _Output:
    output = _Output("dvc pull x.dvc", on_line)
    for data, name in ((stdout, "stdout"), (stderr, "stderr")):
        read, write = os.pipe()
        writer = threading.Thread(target=lambda fd=write, data=data: (os.write(fd, data), os.close(fd)))
        writer.start()  # more than a pipe holds: written while it is read, as DVC does
        output.pump(os.fdopen(read, "rb"), name)
        writer.join()
    return output


def test_dvc_output_is_logged_as_whole_clean_lines(caplog):
    seen: list[str] = []
    bar = "\r!\rFetching |#####| 1/2 [00:01<00:01, 1.0file/s]\rFetching |##########| 2/2 [00:02<00:00, 1.0file/s]\n"
    split = b"Running stage 'tr", "ain':\n\xc3".encode("latin-1"), b"\xa9t\xc3\xa9\n"  # a line and a char cut
    with caplog.at_level(logging.INFO, logger="dvc.output"):
        output = _Output("dvc repro", seen.append)
        read, write = os.pipe()
        for part in split:
            os.write(write, part)
        os.write(write, ("\x1b[33mWARNING\x1b[0m: x\n" + bar + "!\n" + "no newline at the end").encode())
        os.close(write)
        output.pump(os.fdopen(read, "rb"), "stderr")
    expected = [
        "Running stage 'train':",
        "été",
        "WARNING: x",
        "Fetching |##########| 2/2 [00:02<00:00, 1.0file/s]",
        "no newline at the end",
    ]
    assert seen == expected and [r.getMessage() for r in caplog.records] == expected
    assert {(r.name, r.dvc_command, r.stream) for r in caplog.records} == {("dvc.output", "dvc repro", "stderr")}


def test_a_dvc_failure_is_said_in_one_line_without_bars():
    stderr = (
        b"\r!\rCollecting          |0.00 [00:00,    ?entry/s]\n"
        b"\r!\rFetching\r        \rERROR: failed to connect to s3 (bucket/files/md5) - Could not connect\n"
        b"\rFetching\rFetching\nERROR: failed to pull data from the cloud - 1 files failed to download\n"
    )
    summary = _pumped(b"", stderr).summary()
    assert summary == (
        "failed to connect to s3 (bucket/files/md5) - Could not connect; "
        "failed to pull data from the cloud - 1 files failed to download"
    )
    failed = b"ERROR: failed to reproduce 'prepare': failed to run: mlops pipeline prepare, exited with 1\n"
    stage = _pumped(b"Running stage 'prepare':\n", b"Error: input data lacks the columns ['nope']\n" + failed)
    assert stage.summary() == (
        "failed to reproduce 'prepare': failed to run: mlops pipeline prepare, exited with 1; "
        "input data lacks the columns ['nope']"
    )
    crashed = b"Traceback ...\nKeyError: 'x'\n\r  0%|   | 0/1 [00:00<?, ?file/s]\n"
    assert _pumped(b"", crashed).summary() == "KeyError: 'x'"
    assert len(_pumped(b"", b"ERROR: " + b"x" * 5000 + b"\n").summary()) <= 600


def test_a_bar_redrawn_for_hours_without_a_newline_still_ends_as_its_last_state():
    bar = "\rFetching |{:10}| {}/50000 [00:{:02d}<00:01, 9file/s]"
    redraws = "".join(bar.format("#" * (n % 10), n, n % 60) for n in range(50000))  # megabytes, no newline
    output = _pumped(b"", (redraws + "\r" + " " * 40 + "\rdone\n").encode())
    assert output.text() == "done"
    output = _pumped(b"", redraws.encode() + b"\n")
    assert output.text() == "Fetching |######### | 49999/50000 [00:19<00:01, 9file/s]"

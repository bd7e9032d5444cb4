"""Footprint of each deployable part, side by side with the monolithic environment and the pre-split code.

    .venv/bin/python benchmarks/footprint/bench.py [--runs 5] [--parts serving,drift] [--no-bytecode]
    (or: make bench-footprint)

For each part (serving, drift, retraining, pipelines, the platform tools) an environment is built from the
committed uv.lock exactly as an image builds it: `uv sync --frozen --no-dev --no-editable --package <member>` into
a temporary directory, bytecode compiled as an image does (serving: only what it imports, as its Dockerfile
does; the platform tools, which read terraform/ and
templates/ from their checkout, editable from this one, as `make setup` installs them). Figures, each the median
over --runs fresh processes after one discarded warm-up round, with every environment measured in turn within a
round:

  installed    bytes on disk of the venv's files from the wheels (MB = 10^6 bytes); `+ bytecode` adds the .pyc
  import       wall time of `python -c "import <the part's entry modules>"`
  ready        serving: `mlops serve --model-uri <local model dir>` until GET /health/ready is 200;
               the command-line parts: `mlops <group> --help` to its exit

Peers: (a) the monolith, every part in one environment (`uv sync --all-packages`, what the serving image installed
before the split), running the same modules and commands; (b) for serving, the pre-split code at commit 550f0ce
in a git worktree with its own lock (`import services.serving.app`, its `mlops serve`). Targets from the issue:
the serving environment at most 500 MB and its import faster than the pre-split code's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.footprint.envs import (  # noqa: E402
    ROOT,
    Env,
    Size,
    dist_sizes,
    env_size,
    only_through,
    sync,
    warm_up_serving,
    worktree,
)
from benchmarks.footprint.model import save_tiny_model  # noqa: E402
from benchmarks.footprint.timing import import_seconds, part_env, serve_ready_seconds, wall_seconds  # noqa: E402

PRE_SPLIT = "550f0ce"
TARGET_MB = 500
MB = 1e6


@dataclass(frozen=True)
class Part:
    name: str
    member: str
    modules: tuple[str, ...]  # what the part's process imports first
    ready: tuple[str, ...] | None  # `mlops` arguments timed to exit; None: `mlops serve` until ready
    # the platform tools read terraform/, templates/ and the manifests from the checkout they are installed from
    # (mlops.core.paths), so they run editable from a checkout, never as an image; and since mlops-tools depends
    # on every other member, their environment is the monolith: no peer column
    from_checkout: bool = False


PARTS = [
    Part("serving", "mlops-serving", ("mlops.serving.app",), None),
    Part("drift", "mlops-drift", ("mlops.drift.cli", "mlops.drift.check"), ("drift", "--help")),
    Part("retraining", "mlops-retraining", ("mlops.retraining.runner",), ("retrain", "--help")),
    Part("pipelines", "mlops-pipelines", ("mlops.training.cli", "mlops.registry.cli"), ("pipeline", "--help")),
    Part(
        "platform",
        "mlops-tools",
        ("mlops.delivery.cli", "mlops.devstack.cli", "mlops.infra.cli", "mlops.scaffold.cli"),
        ("--help",),
        from_checkout=True,
    ),
]


@dataclass
class Side:
    """One environment measured for one part: its size, and the figures of each round."""

    part: Part
    env: Env
    modules: tuple[str, ...]
    size: Size
    model_dir: Path
    imports: list[float] = field(default_factory=list)
    readies: list[float] = field(default_factory=list)

    @property
    def cwd(self) -> Path:
        """A scratch directory per environment, also its MLOPS_STATE_DIR: no developer stack.env is picked up."""
        path = self.env.path.parent / f"state-{self.env.label}"
        path.mkdir(exist_ok=True)
        return path

    def run_env(self) -> dict[str, str]:
        # bytecode: compiled at install, as in the image (with --no-bytecode the warm-up round writes it)
        return part_env(self.env.path / "bin", self.cwd, MLOPS_SERVE_AUTH_REQUIRED="false", MLOPS_LOG_LEVEL="WARNING")

    def time_import(self) -> float:
        return import_seconds(self.env.python, self.modules, self.run_env(), self.cwd)

    def time_ready(self) -> float:
        if self.part.ready is None:
            return serve_ready_seconds(self.env.mlops, self.model_dir, self.run_env(), self.cwd)
        return wall_seconds([str(self.env.mlops), *self.part.ready], self.run_env(), self.cwd)


def build(parts: list[Part], work: Path, bytecode: bool) -> tuple[dict[str, Env], Env, Env | None]:
    own = {}
    for part in parts:
        editable = "" if part.from_checkout else " --no-editable"
        print(f"building {part.name}: uv sync --frozen --no-dev{editable} --package {part.member}", flush=True)
        own[part.name] = sync(
            part.name,
            ROOT,
            work / f"env-{part.name}",
            ["--package", part.member],
            bytecode=bytecode and part.name != "serving",  # serving: its Dockerfile compiles what it imports
            editable=part.from_checkout,
        )
        if part.name == "serving" and bytecode:
            warm_up_serving(own[part.name])
    print("building the monolith: uv sync --frozen --no-dev --no-editable --all-packages", flush=True)
    mono = sync("monolith", ROOT, work / "env-monolith", ["--all-packages"], bytecode=bytecode)
    old = None
    if any(p.name == "serving" for p in parts):
        print(
            f"building the pre-split code: git worktree of {PRE_SPLIT}, uv sync --frozen --no-dev --no-editable",
            flush=True,
        )
        with worktree(PRE_SPLIT, work) as tree:  # installed non-editable, as its Dockerfile did: outlives the tree
            old = sync(PRE_SPLIT, tree, work / f"env-{PRE_SPLIT}", [], bytecode=bytecode)
    return own, mono, old


def measure(sides: list[Side], runs: int) -> None:
    """Round 0 warms the page cache and is discarded; within a round every environment runs in turn, so a change
    in the machine's load hits all of them alike."""
    for round_ in range(runs + 1):
        print(f"round {round_}/{runs}{' (warm-up, discarded)' if round_ == 0 else ''}", flush=True)
        for side in sides:
            took_import, took_ready = side.time_import(), side.time_ready()
            if round_:
                side.imports.append(took_import)
                side.readies.append(took_ready)


# ---- the table ---------------------------------------------------------------------------------------------------
def _ratio(value: float, peer: float | None) -> str:
    return f"{value / peer:.2f}x" if peer else ""


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value / MB:,.1f}" if unit == "MB" else f"{value:.3f}"


def rows(own: Side, mono: Side | None, old: Side | None, bytecode: bool) -> list[list[str]]:
    figures: list[tuple[str, str, Callable[[Side], float]]] = [("installed MB", "MB", lambda s: s.size.installed)]
    if bytecode:
        figures.append(("+ bytecode MB", "MB", lambda s: s.size.total))
    figures += [
        ("import s", "s", lambda s: statistics.median(s.imports)),
        ("ready s" if own.part.ready is None else "--help s", "s", lambda s: statistics.median(s.readies)),
    ]
    out = []
    for label, unit, get in figures:
        value = get(own)
        peer = get(mono) if mono else None
        past = get(old) if old else None
        out.append(
            [
                own.part.name,
                label,
                _fmt(value, unit),
                _fmt(peer, unit),
                _ratio(value, peer),
                _fmt(past, unit),
                _ratio(value, past),
            ]
        )
    return out


def print_table(table: list[list[str]]) -> None:
    header = ["part", "figure", "part's env", "monolith", "vs mono", PRE_SPLIT, f"vs {PRE_SPLIT}"]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    previous = None
    for row in table:
        print(line.format(*([row[0] if row[0] != previous else "", *row[1:]])))
        previous = row[0]


def serving_report(serving: Side, old: Side | None) -> None:
    sizes = dist_sizes(serving.env)
    print("\nserving environment, largest distributions (wheel files, MB):")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {size / MB:7.1f}  {name}")
    via = sorted(only_through(ROOT / "uv.lock", "mlops-serving", "mlflow-skinny") & sizes.keys())
    print(
        f"  installed only because mlflow-skinny needs them: {sum(sizes[n] for n in via) / MB:.1f} MB "
        f"({', '.join(via)})"
    )
    installed, total = serving.size.installed / MB, serving.size.total / MB
    print("\ntargets:")
    print(
        f"  serving env <= {TARGET_MB} MB, as the image carries it: {total:.1f} MB "
        f"({installed:.1f} MB installed + {total - installed:.1f} MB bytecode) "
        f"({'met' if total <= TARGET_MB else 'NOT met'})"
    )
    if old is not None:
        new_s, old_s = statistics.median(serving.imports), statistics.median(old.imports)
        change = f"{old_s / new_s:.2f}x faster" if new_s < old_s else f"{new_s / old_s:.2f}x slower"
        print(
            f"  serving import faster than {PRE_SPLIT}'s: {new_s:.3f} s vs {old_s:.3f} s, {change} "
            f"({'met' if new_s < old_s else 'NOT met'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (after one warm-up) [5]")
    parser.add_argument("--parts", default=",".join(p.name for p in PARTS), help="comma-separated subset")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="do not compile bytecode at install (faster builds; the warm-up round writes it)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    wanted = args.parts.split(",")
    parts = [p for p in PARTS if p.name in wanted]
    if len(parts) != len(wanted):
        parser.error(f"--parts: choose from {', '.join(p.name for p in PARTS)}")
    bytecode = not args.no_bytecode
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlops-footprint-") as tmp:
        work = Path(tmp)
        model_dir = save_tiny_model(work / "model")
        own, mono, old_env = build(parts, work, bytecode)
        sizes = {env.label: env_size(env.path) for env in [*own.values(), mono, old_env] if env}  # before any run
        sides: list[Side] = []
        triples = []
        for part in parts:
            mine = Side(part, own[part.name], part.modules, sizes[part.name], model_dir)
            theirs = None if part.from_checkout else Side(part, mono, part.modules, sizes[mono.label], model_dir)
            past = None
            if part.name == "serving" and old_env is not None:
                past = Side(part, old_env, ("services.serving.app",), sizes[old_env.label], model_dir)
            sides += [s for s in (mine, theirs, past) if s is not None]
            triples.append((mine, theirs, past))
        measure(sides, args.runs)
        load_after = os.getloadavg()
        print(
            f"\nmedian of {args.runs} runs each; load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after, on {os.cpu_count()} cores; sizes in MB (10^6 bytes)\n"
        )
        table = [row for mine, theirs, past in triples for row in rows(mine, theirs, past, bytecode)]
        print_table(table)
        print(
            "\nimported: "
            + "; ".join(f"{p.name}: {', '.join(p.modules)}" for p in parts)
            + (f"; {PRE_SPLIT}: services.serving.app" if old_env else "")
        )
        for part in parts:
            if part.from_checkout:
                print(
                    f"{part.name}: installed editable from the checkout, as `make setup` does (it reads terraform/ "
                    f"and templates/ from there); {part.member} depends on every part, so its env is the monolith"
                )
        for mine, _, past in triples:
            if mine.part.name == "serving":
                serving_report(mine, past)


if __name__ == "__main__":
    main()

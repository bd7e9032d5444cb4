"""Static checks of terraform/: formatting, validation of every module and env, module conventions, docs that
cannot go stale (each README names every input and output; SECURITY.md lists exactly the inline checkov skips)."""

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlops.core.terraform import TERRAFORM_DIR, terraform_env

pytestmark = pytest.mark.unit

MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TERRAFORM_DIR / "envs").iterdir() if p.is_dir())


def _called_modules(config: Path, seen: set[Path]) -> set[Path]:
    """The local modules `config` calls, directly or through other modules."""
    for source in re.findall(
        r'^\s*source\s*=\s*"(\.\.?/[^"]+)"', "\n".join(p.read_text() for p in config.glob("*.tf")), re.M
    ):
        module = (config / source).resolve()
        if module not in seen:
            seen.add(module)
            _called_modules(module, seen)
    return seen


# `terraform validate` of a root validates every module it calls, so the envs and the bootstrap cover the modules;
# a module no env calls is validated on its own. (Each validate loads the AWS provider schema: about 8 s apiece.)
_IN_ENVS = set().union(*(_called_modules(env, set()) for env in ENVS))
CONFIGS = [*ENVS, TERRAFORM_DIR / "bootstrap", *(m for m in MODULES if m.resolve() not in _IN_ENVS)]
SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9_]+):(.+)")


def _blocks(directory: Path, kind: str) -> list[str]:
    text = "\n".join(p.read_text() for p in directory.glob("*.tf"))
    return re.findall(rf'^{kind} "([^"]+)"', text, flags=re.MULTILINE)


def test_terraform_fmt_is_clean():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        env=terraform_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _validate(config: Path, tmp: Path) -> tuple[Path, int, str]:
    env = {**terraform_env(), "TF_DATA_DIR": str(tmp / config.relative_to(TERRAFORM_DIR).as_posix().replace("/", "_"))}
    out = ""
    for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
        result = subprocess.run(["terraform", f"-chdir={config}", *args], env=env, capture_output=True, text=True)
        out += result.stdout + result.stderr
        if result.returncode:
            return config, result.returncode, out
    return config, 0, out


def test_every_module_env_and_the_bootstrap_validate(tmp_path):
    # data dirs in tmp: nothing is written into the repository, and the provider comes from the mirror (symlinked)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _validate(c, tmp_path), CONFIGS))
    failures = {str(c.relative_to(TERRAFORM_DIR)): out for c, code, out in results if code}
    assert not failures, failures
    assert {m.resolve() for m in MODULES} <= _IN_ENVS | {c.resolve() for c in CONFIGS}  # every module validated


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_follows_the_conventions(module):
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (module / name).is_file(), f"{module.name} has no {name}"
    versions = (module / "versions.tf").read_text()
    assert 'required_version = ">= 1.5"' in versions and 'version = "~> 5.100"' in versions
    main = (module / "main.tf").read_text()
    if re.search(r"^resource ", main, flags=re.MULTILINE):  # a pure composition (platform) has no resource of its own
        assert re.search(r'^(resource|data) "[a-z0-9_]+" "this"', main, flags=re.MULTILINE), "no main resource `this`"
    variables = (module / "variables.tf").read_text()
    for block in re.split(r'^variable "', variables, flags=re.MULTILINE)[1:]:
        assert "description" in block and "type" in block, f'{module.name}: variable "{block.split(chr(34))[0]}"'
    outputs = (module / "outputs.tf").read_text()
    for block in re.split(r'^output "', outputs, flags=re.MULTILINE)[1:]:
        assert "description" in block, f'{module.name}: output "{block.split(chr(34))[0]}" has no description'


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_readme_names_every_input_and_output(module):
    readme = (module / "README.md").read_text()
    missing = [n for n in _blocks(module, "variable") + _blocks(module, "output") if f"`{n}`" not in readme]
    assert not missing, f"{module.name}/README.md does not document {missing}"


def test_envs_share_their_variables_outputs_and_versions():
    # only main.tf (the sizes) and terraform.tfvars may differ between environments
    for name in ("variables.tf", "outputs.tf", "versions.tf"):
        texts = {env.name: (env / name).read_text() for env in ENVS}
        assert len(set(texts.values())) == 1, f"{name} differs between {sorted(texts)}"


def test_no_account_ids_regions_or_arns_are_hard_coded():
    offenders = []
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts or path.name == "endpoints_override.tf":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.match(r"\s*(description|error_message)\s*=", code):
                continue  # examples in prose are not configuration
            if re.search(r"\b\d{12}\b|arn:aws:|\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", code):
                offenders.append(f"{path.relative_to(TERRAFORM_DIR)}:{number}: {line.strip()}")
    assert not offenders, offenders


def _inline_skips() -> set[tuple[str, str, str]]:
    skips = set()
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for line in path.read_text().splitlines():
            match = SKIP.search(line)
            if match:
                skips.add((str(path.relative_to(TERRAFORM_DIR)), match.group(1), match.group(2).strip()))
    return skips


def test_security_md_lists_exactly_the_inline_checkov_skips():
    table = (TERRAFORM_DIR / "SECURITY.md").read_text()
    rows = set(re.findall(r"^\| `([^`]+)` \| `(CKV2?_[A-Z0-9_]+)` \| (.+?) \|$", table, flags=re.MULTILINE))
    skips = _inline_skips()
    assert skips, "no inline skips found: the parser is broken"
    assert rows == skips, f"missing from SECURITY.md: {skips - rows}; stale in SECURITY.md: {rows - skips}"


def test_every_skip_gives_a_reason():
    assert all(len(reason) > 20 for _, _, reason in _inline_skips())


def test_platform_plan_test_expects_exactly_the_deploy_targets_schema():
    # modules/platform/tests asserts the fields of the deploy_targets output; they must be the ones
    # `mlops deploy canary` validates, so a field added to either side fails here
    from mlops.delivery.targets import DeployTargets

    text = (TERRAFORM_DIR / "modules" / "platform" / "tests" / "plan.tftest.hcl").read_text()
    listed = re.search(r"toset\(keys\(output\.deploy_targets\)\) == toset\(\[(.*?)\]\)", text, flags=re.DOTALL)
    assert listed, "the platform plan test no longer checks the deploy_targets fields"
    assert set(re.findall(r'"([a-z_]+)"', listed.group(1))) == set(DeployTargets.model_fields)
    outputs = (TERRAFORM_DIR / "modules" / "platform" / "outputs.tf").read_text()
    block = outputs.split('output "deploy_targets"', 1)[1].split("\n}\n", 1)[0]
    assert set(re.findall(r"^    ([a-z_]+)\s+=", block, flags=re.MULTILINE)) == set(DeployTargets.model_fields)

"""Static checks of terraform/, without Terraform: provider and Terraform version requirements, module conventions,
docs that cannot go stale (each README names every input and output; SECURITY.md lists exactly the inline checkov
skips). `terraform fmt`, `validate` and `test` run in tests/integration/test_terraform_{validate,plan}.py."""

import re
from pathlib import Path

import pytest

from mlops.core.terraform import PROVIDER, TERRAFORM_DIR, mirror_path
from tests.support.terraform import BOOTSTRAP, ENVS, MODULES, tf_text

pytestmark = pytest.mark.unit

SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9_]+):(.+)")
CONFIGS = [*MODULES, *ENVS, BOOTSTRAP]


def _blocks(directory: Path, kind: str) -> list[str]:
    text = "\n".join(p.read_text() for p in directory.glob("*.tf"))
    return re.findall(rf'^{kind} "([^"]+)"', text, flags=re.MULTILINE)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def admits(constraint: str, version: str) -> bool:
    """Whether a Terraform version constraint ("~> 5.100", ">= 1.5, < 2") admits `version`."""
    have = _version(version)
    for part in constraint.split(","):
        operator, wanted = re.fullmatch(r"\s*(~>|>=|<=|!=|>|<|=)?\s*([\d.]+)\s*", part).groups()
        want = _version(wanted)
        padded = have[: len(want)] + (0,) * max(0, len(want) - len(have))
        if operator == "~>":  # the last given part may grow: ~> 5.100 is >= 5.100, < 6.0
            ok = padded >= want and have[: len(want) - 1] == want[:-1]
        else:
            ok = {None: padded == want, "=": padded == want, "!=": padded != want, ">": padded > want,
                  ">=": padded >= want, "<": padded < want, "<=": padded <= want}[operator]  # fmt: skip
        if not ok:
            return False
    return True


def _requirements(config: Path) -> tuple[str | None, dict[str, tuple[str, str]]]:
    """(required_version, {provider: (source, version constraint)}) of a configuration's terraform block."""
    text = tf_text(config)
    required = re.search(r'required_version\s*=\s*"([^"]+)"', text)
    providers = {}
    block = re.search(r"required_providers\s*\{(.*?)\n  \}", text, flags=re.S)
    for name, body in re.findall(r"(\w+)\s*=\s*\{([^}]*)\}", block.group(1) if block else ""):
        source = re.search(r'source\s*=\s*"([^"]+)"', body)
        version = re.search(r'version\s*=\s*"([^"]+)"', body)
        providers[name] = (source.group(1) if source else "", version.group(1) if version else "")
    return (required.group(1) if required else None), providers


def test_version_constraint_reading():
    assert admits("~> 5.100", "5.100.0") and admits("~> 5.100", "5.123.4") and not admits("~> 5.100", "6.0.0")
    assert not admits("~> 5.100", "5.99.9") and admits(">= 1.5", "1.9.8") and not admits(">= 1.5", "1.4.7")
    assert admits(">= 5.100", "6.2.0") and not admits(">= 5.100", "5.99.0")
    assert admits(">= 1.5, < 2", "1.5.0") and not admits(">= 1.5, < 2", "2.0.0")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(TERRAFORM_DIR)))
def test_every_configuration_pins_terraform_and_admits_the_mirrored_aws_provider(config):
    """So `terraform init` finds its provider offline. The roots (envs, bootstrap) pin the provider's minor line;
    a module declares only its floor (`>= 5.100`), so a root that moves to a newer provider keeps using it; every
    configuration asks for the Terraform the envs need (the S3 backend's native locking, `use_lockfile`: 1.11;
    `terraform test` with mock providers needs 1.7)."""
    required, providers = _requirements(config)
    assert required == ">= 1.11", f"{config.name} requires Terraform {required!r}"
    assert set(providers) == {"aws"} and providers["aws"][0] == "hashicorp/aws"
    mirrored = [p.name for p in (mirror_path() / PROVIDER).iterdir() if re.fullmatch(r"[\d.]+", p.name)]
    assert mirrored, "the provider mirror holds no hashicorp/aws version"
    assert all(admits(providers["aws"][1], v) for v in mirrored), f"{providers['aws'][1]} excludes {mirrored}"
    if config in MODULES:
        assert providers["aws"][1] == ">= 5.100", f"{config.name}: a module declares a floor, not a pin"
    else:
        assert providers["aws"][1] == "~> 5.100", f"{config.name}: a root pins the provider's minor line"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_follows_the_conventions(module):
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (module / name).is_file(), f"{module.name} has no {name}"
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

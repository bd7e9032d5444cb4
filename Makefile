# Every target a user or Jenkins runs. Setup is implicit: .venv is created or refreshed when the lock changes.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# the venv's tools first, so pre-commit's `system` hooks use the locked ruff
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraform/offline.tfrc
# checkov: no calls home for guideline mappings (no network on CI; inline skips use CKV_ IDs)
export BC_SKIP_MAPPING := TRUE
CHECKOV := .venv-tools/checkov/bin/checkov
ENV ?= dev
IMAGE_TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null)
MODEL ?= $(or $(MLOPS_MODEL_NAME),demo-model)
PYTEST_ARGS ?=

.PHONY: apply canary package release-scan train-register release-diff retrain retrain-serve help setup system-deps lint lint-jenkins scan plan image deploy smoke test test-slow test-unit test-integration test-e2e demo stack-up stack-down stack-status clean bench-drift-speed bench-drift-accuracy bench-drift-spark bench-serving bench-reliability bench-footprint test-bake

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# every workspace member's pyproject.toml counts: its dependencies and its `mlops` subcommands (entry points)
$(VENV)/.synced: pyproject.toml uv.lock scripts/setup.sh $(wildcard */pyproject.toml services/*/pyproject.toml) \
		$(wildcard scripts/tools/*.lock.txt)
	@scripts/setup.sh

setup: $(VENV)/.synced ## Create .venv from uv.lock (fast when nothing changed)

system-deps: ## Debian packages the tests need (prometheus, chromium, wrk, ...), installed when missing
	@scripts/system-deps.sh

lint: setup ## pre-commit on every tracked file: ruff, terraform fmt, checkov, secrets, syntax, whitespace
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

test: lint system-deps ## Lint, then every test but the slow journeys (unit, integration on the real local stack, e2e)
	$(BIN)/mlops infra check
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup system-deps ## The slow journeys only (merge dry run, release loop, EC2 boot, audit apply, README sequence)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

test-unit: setup ## Unit tests only
	$(BIN)/pytest tests/unit -m unit $(PYTEST_ARGS)

test-integration: setup ## Integration tests only, template bake tests aside (starts its own local stack)
	$(BIN)/pytest -m "integration and not bake" $(PYTEST_ARGS)

test-bake: setup ## Template bake tests: generate model projects and run their tests, scans, validate, train
	$(BIN)/pytest -m bake $(PYTEST_ARGS)

test-e2e: setup ## End-to-end tests only
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

scan: setup ## checkov (Terraform, Kubernetes, Dockerfiles; config in .checkov.yaml), JUnit report in reports/
	@mkdir -p reports
	$(CHECKOV) --config-file .checkov.yaml -o cli -o junitxml --output-file-path console,reports/checkov.xml

release-scan: setup ## pip-audit and a CycloneDX SBOM of the serving lock in reports/: with scan's, a release's evidence
	$(BIN)/mlops release scan --out reports

jenkins/lint/node_modules/.installed: jenkins/lint/package-lock.json
	cd jenkins/lint && npm ci --no-audit --no-fund --silent
	@touch $@

lint-jenkins: jenkins/lint/node_modules/.installed ## npm-groovy-lint (pinned in jenkins/lint) on Jenkinsfile and jenkins/vars
	jenkins/lint/node_modules/.bin/npm-groovy-lint --failon error --output txt Jenkinsfile jenkins/vars

# infra (terraform/): ENV=dev|staging|prod; LOCAL=1 runs against the local stack (mlops stack up first)
INFRA_FLAGS = --env $(ENV) $(if $(LOCAL),--local)
PLANS := reports/plans
plan: setup ## Terraform plan of ENV, saved for `make apply`: reports/plans/ENV.tfplan and its text ENV.txt (LOCAL=1: local stack)
	@mkdir -p $(PLANS)
	set -o pipefail; TF_VAR_package_version=$(IMAGE_TAG) \
		$(BIN)/mlops infra plan $(INFRA_FLAGS) --out $(PLANS)/$(ENV).tfplan | tee $(PLANS)/$(ENV).txt

apply: setup ## Apply the plan `make plan` saved for ENV (never a fresh one); writes ENV's deploy targets for `make deploy`
	$(BIN)/mlops infra apply $(INFRA_FLAGS) --plan $(PLANS)/$(ENV).tfplan --targets-out reports/targets/$(ENV).json

# after `make apply` (the bucket, and the targets naming it) and before `make deploy`: the instances' user data
# installs packages/serving/IMAGE_TAG/, the version the plan was made with
package: setup ## Build the EC2 serving package (wheels, lock pins, SHA256SUMS) and publish it to ENV's artifacts bucket as IMAGE_TAG
	$(BIN)/mlops deploy package --env $(ENV) --version $(IMAGE_TAG) \
		$(if $(wildcard reports/targets/$(ENV).json),--targets reports/targets/$(ENV).json)

image: setup ## Build the serving image and push it to ECR as IMAGE_TAG (needs a Docker engine: Jenkins agents)
	$(BIN)/mlops deploy image --tag $(IMAGE_TAG)

# the targets `make apply` wrote (the deploy role cannot read the Terraform state); moto has no instance refresh
DEPLOY_FLAGS = $(if $(wildcard reports/targets/$(ENV).json),--targets reports/targets/$(ENV).json) \
	$(if $(LOCAL),--no-instance-refresh)
# the evidence records who approved (Jenkins' approval, mlopsApprove) and, with a signing key, checks its signature
RELEASE_FLAGS = $(if $(MLOPS_RELEASE_APPROVED_BY),--approved-by '$(MLOPS_RELEASE_APPROVED_BY)') \
	$(if $(MLOPS_RELEASE_SIGNING_KEY),--signing-key '$(MLOPS_RELEASE_SIGNING_KEY)')
deploy: setup ## Deploy what deploy/MODEL/ENV.yaml says: re-check, canary with rollback, live release, @ENV alias
	$(BIN)/mlops release deploy --env $(ENV) --model $(MODEL) --rollout $(DEPLOY_FLAGS) $(RELEASE_FLAGS)

canary: setup ## Canary deploy of IMAGE_TAG and MODEL's champion to ENV, outside a release (mlops deploy canary)
	$(BIN)/mlops deploy canary --env $(ENV) --model $(MODEL) --image-tag $(IMAGE_TAG)

# the proposal carries the evidence pack when `make scan release-scan` wrote its reports (Jenkins: earlier stages)
train-register: setup ## Train, register, gate MODEL (MLOPS_RETRAIN_CONFIG); a pass proposes a RELEASE_ENV release
	$(BIN)/mlops retrain run --model $(MODEL) --trigger ci --release-env $(or $(RELEASE_ENV),staging) \
		$(if $(wildcard reports/dependency-audit.json),--release-evidence reports)

release-diff: setup ## Compare deploy/*/ENV.yaml with the live release and the @ENV alias (exit 1 on a difference)
	$(BIN)/mlops release diff --env $(ENV)

smoke: setup ## Smoke test the serving endpoint of ENV
	$(BIN)/mlops deploy smoke --env $(ENV)

demo: setup ## The main job on the local stack
	$(BIN)/mlops demo

retrain: setup ## Retrain MODEL now (newest data, gate, promote or reject); config in MLOPS_RETRAIN_CONFIG
	$(BIN)/mlops retrain run --model $(MODEL)

retrain-serve: setup ## The retraining service: cron schedules and drift events (MLOPS_RETRAIN_CONFIG)
	$(BIN)/mlops retrain serve

stack-up: setup ## Start the local stack (moto + MLflow) and write <state dir>/stack.env ($MLOPS_HOME or ~/.local/state/mlops)
	$(BIN)/mlops stack up

stack-down: setup ## Stop the local stack
	$(BIN)/mlops stack down

stack-status: setup ## Show what the local stack runs and whether it answers
	$(BIN)/mlops stack status

clean: stack-down ## Stop the stack, remove the local state dir ($MLOPS_HOME or ~/.local/state/mlops) and caches
	rm -rf "$$($(BIN)/python -c 'from mlops.core.settings import Settings; print(Settings().state_dir)')" .pytest_cache .ruff_cache

bench-drift-speed: setup ## Drift vs Evidently DataDriftPreset at 100k/1M rows, and a 50M-row streamed window
	$(BIN)/python benchmarks/drift/speed.py

bench-drift-accuracy: setup ## Drift false-alarm and detection rates per shape and size, beside Evidently
	$(BIN)/python benchmarks/drift/accuracy.py

bench-drift-spark: setup ## Drift on local Spark vs the single-machine path at 10M and 50M rows: wall time, rows/s, peak RSS
	$(BIN)/python benchmarks/drift/spark.py

bench-serving: setup system-deps ## mlops serve vs mlflow models serve and MLServer (wrk, same workers): req/s, p50/p99
	$(BIN)/python benchmarks/serving/bench.py

bench-reliability: setup system-deps ## Serving soak (10 min, hot reloads), fuzz (schemathesis, Hypothesis), faults
	$(BIN)/python benchmarks/reliability/bench.py

bench-footprint: setup ## Per part, envs from uv.lock: installed size, import, start-to-ready; vs monolith, 550f0ce
	$(BIN)/python benchmarks/footprint/bench.py

.PHONY: infra-destroy
infra-destroy: setup ## Terraform destroy of ENV (LOCAL=1: on the local stack), asks unless AUTO_APPROVE=1
	$(BIN)/mlops infra destroy $(INFRA_FLAGS) $(if $(AUTO_APPROVE),--auto-approve)

# model_uris TAG_VALUE DEFAULT_URI... : the comma-separated MLOPS_SERVE_MODEL_URI of one serving process.
# TAG_VALUE is the instance tag mlops:model-version a deploy set ("NAME/VERSION NAME/VERSION", "" when none):
# mlops.core.contracts format_model_versions writes it and parse_model_versions reads it with the same entry
# pattern (MODEL_VERSION_ENTRY_PATTERN); tests/integration/test_model_version_tag.py runs both on the same values.
# Each DEFAULT_URI (the env's models, models:/NAME@ALIAS) is served at the version the tag pins for NAME, else as
# given. A malformed entry or a model pinned twice fails (nothing guessed); a pin of a model the env does not serve
# is reported and skipped. Inserted verbatim into the user data (serving-asg main.tf), so no Terraform escapes.
model_uris() {
  local LC_ALL=C # the pattern's ranges are ASCII, as in Python
  local entry_pattern='^[A-Za-z0-9][A-Za-z0-9_.-]*/[1-9][0-9]*$'
  local -A pins=()
  local -a entries=()
  local entry name uri uris=""
  read -ra entries <<< "$1"
  shift
  for entry in "${entries[@]}"; do
    if [[ ! "$entry" =~ $entry_pattern ]]; then
      echo "mlops:model-version: entry '$entry' is not NAME/VERSION (a version number from 1)" >&2
      return 1
    fi
    name=${entry%/*}
    if [[ -n "${pins[$name]+set}" ]]; then
      echo "mlops:model-version pins '$name' twice" >&2
      return 1
    fi
    pins[$name]=${entry#*/}
  done
  for uri in "$@"; do
    name=${uri#models:/}
    name=${name%%[@/]*}
    if [[ -n "${pins[$name]+set}" ]]; then
      uri="models:/$name/${pins[$name]}"
      unset "pins[$name]"
    fi
    uris+=",$uri"
  done
  for name in "${!pins[@]}"; do
    echo "mlops:model-version pins '$name', which this env does not serve (serving-asg model_names): skipped" >&2
  done
  echo "${uris#,}"
}

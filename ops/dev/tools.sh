# Sourced by ops/dev/test: the test tools that come from PyPI, each installed
# into a virtual environment of its own. Idempotent and quiet once installed.
#
#   STEWARD_SCHEMATHESIS   the schemathesis command (the API fuzz test runs it)
#   STEWARD_RADICALE       the radicale command (the actuator's CalDAV tests
#                          start their own servers with it)

STEWARD_SCHEMATHESIS_VERSION=4.32.5
STEWARD_RADICALE_VERSION=3.9.0

# steward_ensure_pypi_tool NAME VERSION: installs NAME==VERSION into its own
# venv unless that venv already answers `NAME --version` with VERSION, and
# prints the venv's path.
steward_ensure_pypi_tool() {
    local name="$1" version="$2"
    local venv="${STEWARD_TOOLS_DIR:-$HOME/.cache/steward/tools}/$name-$version"
    if ! "$venv/bin/$name" --version 2>/dev/null | grep -q "$version"; then
        echo "ops/dev: installing $name $version into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "$name==$version" >&2
    fi
    echo "$venv"
}

steward_ensure_tools() {
    local venv
    venv="$(steward_ensure_pypi_tool schemathesis "$STEWARD_SCHEMATHESIS_VERSION")" || return 1
    export STEWARD_SCHEMATHESIS="$venv/bin/schemathesis"
    venv="$(steward_ensure_pypi_tool radicale "$STEWARD_RADICALE_VERSION")" || return 1
    export STEWARD_RADICALE="$venv/bin/radicale"
}

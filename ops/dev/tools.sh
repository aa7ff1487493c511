# Sourced by ops/dev/test: the test tools that come from PyPI, installed into
# a virtual environment of their own. Idempotent and quiet once installed.
#
#   STEWARD_SCHEMATHESIS   the schemathesis command (the API fuzz test runs it)

STEWARD_SCHEMATHESIS_VERSION=4.32.5

steward_ensure_tools() {
    local venv="${STEWARD_TOOLS_DIR:-$HOME/.cache/steward/tools}/schemathesis-$STEWARD_SCHEMATHESIS_VERSION"
    if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$STEWARD_SCHEMATHESIS_VERSION"; then
        echo "ops/dev: installing schemathesis $STEWARD_SCHEMATHESIS_VERSION into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "schemathesis==$STEWARD_SCHEMATHESIS_VERSION"
    fi
    export STEWARD_SCHEMATHESIS="$venv/bin/schemathesis"
}

# Sourced by ops/dev/test: the test tools that come from PyPI, each installed
# into a virtual environment of its own. Idempotent and quiet once installed.
#
#   STEWARD_SCHEMATHESIS   the schemathesis command (the API fuzz test runs it)
#   STEWARD_RADICALE       the radicale command (the actuator's CalDAV tests
#                          start their own servers with it)
#   STEWARD_AIOSMTPD       the aiosmtpd command, and
#   STEWARD_DOVECOT        Dovecot from Debian's dovecot-imapd: the mail
#                          integration's tests start their own SMTP and IMAP
#                          servers with them

STEWARD_SCHEMATHESIS_VERSION=4.32.5
STEWARD_RADICALE_VERSION=3.9.0
STEWARD_AIOSMTPD_VERSION=1.4.6

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

# steward_ensure_debian_package PACKAGE COMMAND: installs the Debian package
# unless COMMAND is already there (as root, or through sudo).
steward_ensure_debian_package() {
    local package="$1" command="$2"
    if [ -x "$command" ]; then return 0; fi
    echo "ops/dev: installing Debian's $package" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    # The package's own service stays off: the tests start servers of their own.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "$package" >&2 || {
        $sudo apt-get update -q >&2 &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                --no-install-recommends "$package" >&2
    }
}

steward_ensure_tools() {
    local venv
    venv="$(steward_ensure_pypi_tool schemathesis "$STEWARD_SCHEMATHESIS_VERSION")" || return 1
    export STEWARD_SCHEMATHESIS="$venv/bin/schemathesis"
    venv="$(steward_ensure_pypi_tool radicale "$STEWARD_RADICALE_VERSION")" || return 1
    export STEWARD_RADICALE="$venv/bin/radicale"
    venv="$(steward_ensure_pypi_tool aiosmtpd "$STEWARD_AIOSMTPD_VERSION")" || return 1
    export STEWARD_AIOSMTPD="$venv/bin/aiosmtpd"
    steward_ensure_debian_package dovecot-imapd /usr/sbin/dovecot || return 1
    export STEWARD_DOVECOT=/usr/sbin/dovecot
}

# Sourced by ops/dev/run, ops/dev/test, ops/dev/test-ui and .ci/run: the web
# UI in ui/ (React + TypeScript, built with Vite). Idempotent and quiet once
# done. From the repository root.
#
#   steward_ensure_ui        npm ci when ui/node_modules is missing or older
#                            than ui/package-lock.json; npm run build when
#                            ui/dist is missing or older than the sources
#   steward_ensure_chromium  Debian's chromium for the end-to-end test
#                            (never a browser download)
#   steward_ui_checks        tsc, the API types' drift, Vitest, then the
#                            end-to-end test against the steward binary cargo
#                            built ($STEWARD_BIN, default
#                            $CARGO_TARGET_DIR/debug/steward) on PostgreSQL

steward_ensure_ui() {
    if ! command -v npm >/dev/null; then
        echo "ops/dev: npm (Node.js 20) is needed to build the web UI in ui/" >&2
        return 1
    fi
    # npm rewrites node_modules/.package-lock.json on every install, so a
    # lock file newer than it means the dependencies changed since.
    if [ ! -f ui/node_modules/.package-lock.json ] ||
        [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
        echo "ops/dev: installing the web UI's dependencies (npm ci)" >&2
        npm --prefix ui ci --no-audit --no-fund --loglevel=error >&2 || return 1
    fi
    local sources=(ui/src ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts ui/tsconfig.json)
    if [ ! -f ui/dist/index.html ] ||
        [ -n "$(find "${sources[@]}" -newer ui/dist/index.html -print -quit)" ]; then
        echo "ops/dev: building the web UI (ui/dist)" >&2
        local log
        log="$(mktemp)"
        if ! npm --prefix ui run build >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            echo "ops/dev: the web UI did not build" >&2
            return 1
        fi
        rm -f "$log"
    fi
}

steward_ensure_chromium() {
    if ! [ -x /usr/bin/chromium ]; then
        echo "ops/dev: installing Debian's chromium (for the UI's end-to-end test)" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null ||
            return 1
    fi
}

steward_ui_checks() {
    local begun=$SECONDS
    steward_ensure_ui || return 1
    steward_ensure_chromium || return 1
    echo "==> ui: tsc --noEmit" && npm --prefix ui run --silent typecheck || return 1
    echo "==> ui: API types against schemas/openapi.json" && npm --prefix ui run --silent check:api || return 1
    echo "==> ui: vitest" && npm --prefix ui run --silent test -- --reporter=dot || return 1
    echo "==> ui: end-to-end in Chromium" && npm --prefix ui run --silent e2e || return 1
    echo "<== ui checks: $((SECONDS - begun)) s"
}

# build-sdk.sh -- sourced by the examples' demo.sh: builds the SDK for the
# example $EXAMPLE (if dist/ is missing or stale; in a temp copy under $TMPD
# when $SDK_SRC is not writable by this user) and sets SDK, DEMO_JS and
# WORKER_JS.  Needs header, info, warn (scripts/common.sh), SDK_SRC, TMPD
# and EXAMPLE.

# Is $1 (an sdk/typescript folder) built from its current sources, with dependencies?
built() {
    local d=$1 out=$1/dist/examples/$EXAMPLE/demo.js
    [ -f "$out" ] && [ -f "$d/dist/examples/$EXAMPLE/worker.js" ] && [ -d "$d/node_modules/pg" ] || return 1
    [ -z "$(find "$d/src" "$d/examples" "$d/package.json" "$d/tsconfig.json" -newer "$out" \
              \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]
}

npm_env=(env HOME="$TMPD/home" npm_config_cache="$TMPD/npm-cache" npm_config_update_notifier=false
         npm_config_fund=false npm_config_audit=false)

build_sdk() {   # build the SDK in folder $1
    local d=$1 log=$TMPD/npm.log
    mkdir -p "$TMPD/home"
    if [ ! -d "$d/node_modules/pg" ] || [ ! -d "$d/node_modules/typescript" ]; then
        info "npm ci (in $d)"
        if ! (cd "$d" && "${npm_env[@]}" npm ci --loglevel=error >"$log" 2>&1); then
            warn "npm ci failed; trying npm install"
            cat "$log" >&2
            if ! (cd "$d" && "${npm_env[@]}" npm install --loglevel=error >"$log" 2>&1); then
                cat "$log" >&2
                if [ "$d" != "$SDK_SRC" ] && [ -d "$SDK_SRC/node_modules/typescript" ]; then
                    warn "npm install failed too; using a copy of $SDK_SRC/node_modules"
                    rm -rf "$d/node_modules" && cp -a "$SDK_SRC/node_modules" "$d/node_modules" || return 1
                else
                    return 1
                fi
            fi
        fi
    fi
    info "npm run build (tsc)"
    (cd "$d" && "${npm_env[@]}" npm run build --silent >"$log" 2>&1) || { cat "$log" >&2; return 1; }
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    warn "node and npm are needed (Node 20+)"; exit 1
fi
info "node $(node --version), npm $(npm --version 2>/dev/null)"
if built "$SDK_SRC"; then
    SDK=$SDK_SRC
    info "dist/ is up to date in $SDK"
elif [ -w "$SDK_SRC" ] && { [ ! -e "$SDK_SRC/dist" ] || [ -w "$SDK_SRC/dist" ]; } &&
     { [ ! -e "$SDK_SRC/node_modules" ] || [ -w "$SDK_SRC/node_modules" ]; }; then
    SDK=$SDK_SRC
    build_sdk "$SDK" || { warn "SDK build failed"; exit 1; }
else
    SDK=$TMPD/sdk
    info "$SDK_SRC is not writable by $(id -un): building a copy in $SDK"
    mkdir -p "$SDK"
    tar -C "$SDK_SRC" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$SDK" -xf - ||
        { warn "copy failed"; exit 1; }
    build_sdk "$SDK" || { warn "SDK build failed"; exit 1; }
fi
DEMO_JS=$SDK/dist/examples/$EXAMPLE/demo.js
WORKER_JS=$SDK/dist/examples/$EXAMPLE/worker.js

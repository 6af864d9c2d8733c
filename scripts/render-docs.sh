#!/usr/bin/env bash
# Renders every module's and role's reference from its own documentation into
# docs/reference/ (antsibull-docs, simplified RST that reads well on a forge).
#   scripts/render-docs.sh [DEST]     (default docs/reference)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-docs/reference}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
antsibull-docs collection --use-current --dest-dir "$work" --output-format simplified-rst \
    --no-indexes --no-add-antsibull-docs-version adaptive.intravm >/dev/null
rm -rf "$dest"
mkdir -p "$dest"
cp "$work"/collections/adaptive/intravm/*.rst "$dest"/

#!/bin/sh
# tools/check-format.sh - fail when a C file differs from what clang-format
# (Debian's clang-format 14, with the committed .clang-format) makes of it.
# With --fix, reformat them in place instead.
set -e
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
if ! command -v "$CF" >/dev/null 2>&1; then
    echo "check-format: $CF not found (apt-get install clang-format)" >&2
    exit 1
fi
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
if [ "${1:-}" = "--fix" ]; then
    # shellcheck disable=SC2086
    "$CF" -i $files
    exit 0
fi
bad=0
for f in $files; do
    if ! "$CF" "$f" | cmp -s - "$f"; then
        echo "check-format: $f is not formatted (tools/check-format.sh --fix)"
        bad=1
    fi
done
exit $bad

#!/bin/sh
# tools/build-deb.sh [OUTDIR] - build loom_<version>_amd64.deb with
# `dpkg-buildpackage -us -uc -b` from a clean copy of this tree (the files
# git tracks, as they are in the working tree), and copy the .deb (and the
# .buildinfo/.changes) to OUTDIR (default: the current directory).
#
# The copy gets debian/ from packaging/debian/ and the units, sysusers,
# tmpfiles and logrotate files from packaging/ under the names debhelper
# wants.  Needs the Build-Depends of packaging/debian/control and
# debhelper (tools/deps.sh installs them).  Prints the .deb's path.
set -e
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/loom-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

tree="$work/loom"
mkdir "$tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked files only: no build products, no configure output
    (cd "$src" && git ls-files -z --cached | xargs -0 tar -cf - --no-recursion) |
        tar -xf - -C "$tree"
else
    echo "build-deb.sh: $src is not a git checkout" >&2
    exit 1
fi

cp -r "$tree/packaging/debian" "$tree/debian"
cp "$tree/packaging/systemd/loomd.service" "$tree/debian/loom.loomd.service"
cp "$tree/packaging/systemd/loom.socket" "$tree/debian/loom.loom.socket"
cp "$tree/packaging/systemd/loom.sysusers" "$tree/debian/loom.sysusers"
cp "$tree/packaging/systemd/loom.tmpfiles" "$tree/debian/loom.tmpfiles"
cp "$tree/packaging/logrotate/loom" "$tree/debian/loom.logrotate"

(cd "$tree" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed (last lines above)" >&2
    exit 1
}
version=$(cd "$tree" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
for f in "$work"/loom_"$version"_"$arch".*; do
    cp "$f" "$out/"
done
echo "$out/loom_${version}_${arch}.deb"

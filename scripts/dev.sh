#!/usr/bin/env bash
# Creates .venv on first use, installs upbit_stream with its test extra, then runs the given command.
# With WITH_TEST_PEERS=1 (scripts/test sets it), also once each: .peers/upbit-sdk (upbit-sdk pins
# websockets<16, so it gets its own venv for the interop tests) and .autobahn (Autobahn|Testsuite,
# when pyenv's Python 2.7 is on the machine). A failed extra install only warns: the tests that need
# it skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."

# A Python >= 3.11: $PYTHON if set, else the newest python3.1x on PATH, else python3.
new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
if [ -n "${PYTHON:-}" ]; then
    python=$PYTHON
else
    python=python3
    for candidate in python3.14 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null && new_enough "$candidate"; then python=$candidate; break; fi
    done
fi
if ! new_enough "$python"; then
    found=$("$python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo "none")
    echo "upbit_stream needs Python 3.11 or newer; $python is $found." >&2
    echo "Install one (e.g. apt install python3.11 python3.11-venv), then run the command again with PYTHON=python3.11 in front." >&2
    exit 2
fi
# A .venv made by an older or another Python (or left half-made) is made again.
if [ -x .venv/bin/python ] && ! new_enough .venv/bin/python; then
    echo "dev.sh: .venv was made with a Python older than 3.11; making it again with $python" >&2
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    echo "first run: creating .venv with $python and installing upbit_stream (about a minute)…" >&2
    "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
    echo "dev.sh: installing upbit_stream and its test tools into .venv…" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    touch "$stamp"
fi

if [ "${WITH_TEST_PEERS:-0}" != 1 ]; then
    exec "$@"
fi

# One venv per peer under .peers/<peer>/; its .ready file marks it complete.
peer=.peers/upbit-sdk
if [ ! -f "$peer/.ready" ]; then
    rm -rf "$peer"
    if "$python" -m venv "$peer" && "$peer/bin/python" -m pip install --quiet --disable-pip-version-check \
            upbit-sdk==1.1.0 >/dev/null 2>&1; then
        touch "$peer/.ready"
    else
        echo "dev.sh: could not install upbit-sdk into $peer; its interop tests will skip" >&2
    fi
fi

# The prefix must be absolute: sdists built by setup.py install (zope.interface, autobahn) resolve
# a relative one inside their temporary build directory, and their files vanish with it.
py2=${AUTOBAHN_PYTHON:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7.*/bin/python 2>/dev/null | tail -n 1 || true)}
autobahn=$PWD/.autobahn
if [ -n "$py2" ] && [ -x "$py2" ] && [ ! -f "$autobahn/.ready" ]; then
    rm -rf "$autobahn"
    if (cd /tmp && "$py2" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
            --prefix "$autobahn" autobahntestsuite==0.8.2 >/dev/null 2>&1) \
        && "$py2" -c "import site; site.addsitedir('$autobahn/lib/python2.7/site-packages'); import autobahntestsuite.wstest" 2>/dev/null
    then
        touch "$autobahn/.ready"
    else
        echo "dev.sh: could not install autobahntestsuite into .autobahn; the Autobahn tests will skip" >&2
    fi
fi
exec "$@"

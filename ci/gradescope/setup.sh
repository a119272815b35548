#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu):
# https://gradescope-autograders.readthedocs.io/en/latest/specs/
# It installs Python, torch (CPU) and the grader packed into this bundle by
# `grade gradescope NAME --out autograder.zip`, every library at the version that
# constraints.txt (written with the bundle) pins: each rebuild installs the same grader.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
CONSTRAINTS="$SOURCE/constraints.txt"
export DEBIAN_FRONTEND=noninteractive

apt-get update
# libseccomp2: the workers' filter that refuses new processes (the grader's pyseccomp loads it).
apt-get install -y --no-install-recommends python3 python3-pip python3-venv libseccomp2
PYTHON=python3
# The grader needs Python 3.11 or newer (tomllib); Ubuntu 22.04's python3 is 3.10.
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON=python3.11
fi

"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
# torch first, CPU-only, at the pinned version: PyPI's build would pull a multi-GB CUDA build. Its own
# dependencies come with the grader's below, from PyPI, pinned too (the CPU index mirrors only some versions).
"$ROOT/venv/bin/python" -m pip install --quiet torch --no-deps --index-url https://download.pytorch.org/whl/cpu \
    --constraint "$CONSTRAINTS"
# The grader with its feedback extra (what grading with feedback needs; not the cluster extra).
"$ROOT/venv/bin/python" -m pip install --quiet "$SOURCE/convgrade[feedback]" --constraint "$CONSTRAINTS"

# The bundle (hidden tests, reference solutions, the secret) readable by root alone. Student code never
# sees /autograder/source anyway (the workers' root holds only Python, torch and the installed grader);
# this holds where namespaces are refused too, since workers run as nobody.
chmod -R go-rwx "$SOURCE"
# Fail here, while the staff build the image, rather than on the first student's upload.
"$ROOT/venv/bin/grade" list --course "$SOURCE/convgrade"

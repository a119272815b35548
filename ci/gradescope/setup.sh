#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu):
# https://gradescope-autograders.readthedocs.io/en/latest/specs/
# It installs Python, torch (CPU) and the grader packed into this bundle by
# `grade gradescope NAME --out autograder.zip`.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
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
# torch first, pinned and CPU-only: an open range would pull a multi-GB CUDA build.
"$ROOT/venv/bin/python" -m pip install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
"$ROOT/venv/bin/python" -m pip install --quiet "$SOURCE/convgrade"

# The bundle (hidden tests, reference solutions, the secret) readable by root alone. Student code never
# sees /autograder/source anyway (the workers' root holds only Python, torch and the installed grader);
# this holds where namespaces are refused too, since workers run as nobody.
chmod -R go-rwx "$SOURCE"
# Fail here, while the staff build the image, rather than on the first student's upload.
"$ROOT/venv/bin/grade" list --course "$SOURCE/convgrade"

#!/bin/sh
# Makes the Python peers of the benchmarks available: NumPy (aggregation) and PyTorch (training).
# Never fails: when they cannot be installed the peers are reported as skipped, with the reason.
PY=${MEDLEY_BENCH_PYTHON:-/usr/bin/python3}
if "$PY" -c 'import numpy' 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing python3-numpy and python3-torch with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update && apt-get install -y python3-numpy python3-torch) >&2 || echo "[setup] apt-get failed; Python peers will be skipped" >&2
else
  echo "[setup] $PY has no numpy and this is not a root shell with apt-get; Python peers will be skipped" >&2
fi
exit 0

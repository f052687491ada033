#!/usr/bin/env bash
# Runs before `npm test` (the `pretest` script): installs the Debian packages the tests use when
# they are missing, so `npm test` passes on a fresh Debian machine. Needs root or sudo for that;
# without either it names the packages and stops.
set -euo pipefail
# Debian packages the tests use, for /usr/bin/python3 and as real servers:
# - independent references: PyNaCl opens what Medley sealed (python3-nacl); NumPy implementations
#   of each aggregation strategy (python3-numpy); scikit-learn and scikit-image for the clinical
#   metrics (python3-sklearn, python3-skimage); pydicom and Pillow for the DICOM reader and the
#   resizer (python3-pydicom, python3-pil);
# - real servers and tools: a PACS with DICOMweb (orthanc, orthanc-dicomweb); headless Chromium
#   renders the report (chromium); a NATS server with JetStream for the NATS control plane (nats-server).
PACKAGES="python3-nacl python3-numpy python3-sklearn python3-skimage python3-pydicom python3-pil orthanc orthanc-dicomweb chromium nats-server"
# Installed without their recommended packages (docker-compose would otherwise pull in the whole
# docker.io daemon): systemd's systemd-analyze/-sysusers/-tmpfiles check deploy/systemd, and
# Debian's docker-compose (Compose v1, Python) runs `config` on deploy/docker/compose.yaml.
LEAN_PACKAGES="systemd docker-compose"
MISSING=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || MISSING="$MISSING $p"
done
MISSING_LEAN=""
for p in $LEAN_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || MISSING_LEAN="$MISSING_LEAN $p"
done
if [ -n "$MISSING$MISSING_LEAN" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "the tests need these Debian packages:$MISSING$MISSING_LEAN; install them (apt-get install$MISSING$MISSING_LEAN) as root, then run npm test again" >&2
      exit 1
    fi
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "installing:$MISSING$MISSING_LEAN"
  $SUDO apt-get update -qq
  if [ -n "$MISSING" ]; then $SUDO apt-get install -y -qq $MISSING >/dev/null; fi
  if [ -n "$MISSING_LEAN" ]; then $SUDO apt-get install -y -qq --no-install-recommends $MISSING_LEAN >/dev/null; fi
fi

#!/bin/sh
# compose.yaml's one-shot `init` service: makes every key and the coordinator's state on the first
# `docker compose up`, and does nothing on later ones (each step is skipped when its output exists).
# Volumes: /var/lib/medley/coordinator (the coordinator's state), /keys/site-1 and /keys/site-2
# (each agent's own key folder, mounted read-only into that agent only). It runs as root because
# fresh volumes mounted where the image has no folder belong to root; at the end it hands every
# file to the `node` user (uid 1000) the coordinator and the agents run as.
set -eu
# The folders can be moved by environment (test/deploy runs this script outside a container).
STATE=${MEDLEY_INIT_STATE:-/var/lib/medley/coordinator}
KEYS=${MEDLEY_INIT_KEYS:-/keys}
SITES="site-1 site-2"

for site in $SITES; do
  # A site's private key never leaves its own volume; only the .pub goes to the coordinator.
  if [ ! -f "$KEYS/$site/$site.key" ]; then
    medley keys generate --out "$KEYS/$site/$site.key" --name "$site"
  fi
done

if [ ! -f "$STATE/federation.json" ]; then
  medley coordinator init --dir "$STATE" --federation compose-demo --model cnn-small --input 28x28x1 --classes 2
fi
for site in $SITES; do
  # `site add` is idempotent: it says so when the site is already listed with this key.
  medley site add --dir "$STATE" --name "$site" --public-key "$KEYS/$site/$site.key.pub"
  # Each agent trusts exactly this coordinator.
  cp "$STATE/coordinator.key.pub" "$KEYS/$site/coordinator.key.pub"
done
# (Outside the image, where there is no `node` user, the files keep their owner.)
if [ "$(id -u)" = 0 ] && id node >/dev/null 2>&1; then
  chown -R node:node "$STATE" "$KEYS"
fi
chmod 700 "$STATE" "$KEYS"/*
echo "init: coordinator state in $STATE, keys for: $SITES"

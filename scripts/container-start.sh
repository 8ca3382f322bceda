#!/bin/sh
# Container start: hand the data volume to the service user when it is not theirs yet, then drop
# root for good and run the service. A Fly volume is mounted root-owned the first time; after
# that it already belongs to the service user, and a `chown -R` over thousands of archived charts
# would add seconds to every wake from zero, so it runs only when the owner differs.
set -eu
data=${DATA_DIR:-/data}
user=${SERVICE_USER:-coach}
group=$(id -gn "$user")
if [ "$(stat -c %U "$data")" != "$user" ]; then
  # The contents first and the folder itself last: an interrupted hand-over is redone next time.
  find "$data" -mindepth 1 -exec chown -h "$user:$group" {} +
  chown "$user:$group" "$data"
fi
exec setpriv --reuid="$user" --regid="$group" --init-groups "$@"

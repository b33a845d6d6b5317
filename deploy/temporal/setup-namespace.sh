#!/bin/sh
# One-shot setup for the Temporal namespace Slipway uses, run by the
# `temporal-admin-tools` service in docker-compose.yml once the server is
# healthy: registers Slipway's search attributes (what the Web UI filters
# releases by) and sets the namespace's history retention. Safe to run again.
#
# env: TEMPORAL_ADDRESS (temporal:7233), TEMPORAL_NAMESPACE (default),
#      SLIPWAY_NAMESPACE_RETENTION (720h)
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${SLIPWAY_NAMESPACE_RETENTION:-720h}"
# Keep in step with domain/search-attributes.ts.
attributes="SlipwayModel SlipwayVersion SlipwayStage SlipwayStatus"

# The server's healthcheck already waits for the namespace; wait again in case
# this runs against a server started some other way.
tries=0
until temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "setup-namespace: namespace $namespace on $address did not appear within 2 minutes" >&2
    exit 1
  fi
  sleep 2
done

created=0
existing="$(temporal operator search-attribute list --address "$address" --namespace "$namespace")"
for name in $attributes; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "setup-namespace: search attribute $name already registered"
  else
    temporal operator search-attribute create --address "$address" --namespace "$namespace" --name "$name" --type Keyword
    echo "setup-namespace: registered search attribute $name (Keyword)"
    created=1
  fi
done

# Check, rather than trust, that every attribute is there now.
existing="$(temporal operator search-attribute list --address "$address" --namespace "$namespace")"
for name in $attributes; do
  if ! printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "setup-namespace: search attribute $name is still missing on namespace $namespace" >&2
    exit 1
  fi
done

temporal operator namespace update --address "$address" --namespace "$namespace" --retention "$retention"
echo "setup-namespace: namespace $namespace keeps closed workflow histories for $retention"

# Frontend and history nodes cache search attributes for a few seconds; give a
# fresh registration time to reach them before the workers start releases.
if [ "$created" -eq 1 ]; then
  sleep 15
fi
echo "setup-namespace: done"

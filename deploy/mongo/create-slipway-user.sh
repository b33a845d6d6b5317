#!/bin/sh
# Run by the mongo image's entrypoint once, on the first start (empty data
# volume), while mongod listens on localhost without authentication:
# Slipway's own user, readWrite on its database only. Its password is
# SLIPWAY_MONGO_PASSWORD, which docker-compose.yml requires.
: "${SLIPWAY_MONGO_PASSWORD:?SLIPWAY_MONGO_PASSWORD is not set}"
mongosh --quiet --host 127.0.0.1 --port 27017 slipway --eval '
  db.createUser({ user: "slipway", pwd: process.env.SLIPWAY_MONGO_PASSWORD, roles: [{ role: "readWrite", db: "slipway" }] })
'

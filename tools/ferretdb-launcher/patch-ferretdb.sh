#!/usr/bin/env bash
# Patches a copy of FerretDB v1.24.2's source before the launcher is built.
#
# SQLite backend: lookups, updates and deletes by _id filter on
# `_ferretdb_sjson->'$._id'`, but the unique _id index FerretDB creates is on
# `_ferretdb_sjson->"_id"`. SQLite matches index expressions as written, so it
# never uses the index and every _id lookup scans the whole collection (about
# 20 ms at 20,000 documents here, growing with the collection). Writing the
# lookup the way the index is written makes it an index search (under 1 ms).
# Both forms extract the same JSON member; only string and ObjectId _ids are
# pushed down this way.
#
# usage: patch-ferretdb.sh <copy of the FerretDB module source>
set -euo pipefail
file="$1/internal/backends/sqlite/metadata/metadata.go"
before="IDColumn = DefaultColumn + \"->'\$._id'\""
after='IDColumn = DefaultColumn + `->"_id"`'
grep -qF "$before" "$file" || { echo "patch-ferretdb.sh: expected line not found in $file (another FerretDB version?)" >&2; exit 1; }
sed -i "s|$(printf '%s' "$before" | sed 's/[][\.*^$|]/\\&/g')|$after|" "$file"
grep -qF "$after" "$file" || { echo "patch-ferretdb.sh: patching $file failed" >&2; exit 1; }

#!/usr/bin/env bash
# Drift check for the API's single source of truth (docs/adr/0001-api-source-of-truth.md):
# regenerates src/api/generated from crds/ and fails if the result differs from what is in git,
# including new files that were never added. Called by `make check-generated` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(crds src/api/generated)
node scripts/gen-api-types.mjs

# Tracked files that changed, then files git does not know yet (git diff misses those).
status=0
git diff --exit-code --stat -- "${paths[@]}" || status=1
untracked=$(git status --porcelain --untracked-files=all -- "${paths[@]}" | sed -n 's/^?? //p')
if [ -n "$untracked" ]; then
  echo "check-generated: untracked generated or source files (git add them):" >&2
  printf '  %s\n' $untracked >&2
  status=1
fi
if [ "$status" != 0 ]; then
  echo "check-generated: src/api/generated is out of date with crds/; run 'npm run generate' and commit the result" >&2
fi
node scripts/gen-policy-reference.mjs --check || { echo "check-generated: docs/policy-reference.md is out of date with crds/; run 'make generate' (node scripts/gen-policy-reference.mjs) and commit it" >&2; status=1; }
diff -r crds charts/dropwatch-operator/files/crds >&2 || { echo "check-generated: the Helm chart's copy of the CRDs differs from crds/; run 'cp crds/*.yaml charts/dropwatch-operator/files/crds/'" >&2; status=1; }
exit "$status"

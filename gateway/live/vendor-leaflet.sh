#!/usr/bin/env bash
# Vendors Leaflet from its npm package into static/vendor/leaflet/ and records what was taken.
#
#   gateway/live/vendor-leaflet.sh            fetch the newest 1.9.x, copy it in, rewrite VENDORED.md
#   gateway/live/vendor-leaflet.sh 1.9.4      the same for an exact version (or any npm range)
#   gateway/live/vendor-leaflet.sh --check    re-fetch the version VENDORED.md names and prove the
#                                             vendored files are byte-identical to the package's
# The tarball's sha512 is compared with the registry's dist.integrity before anything is copied.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/static/vendor/leaflet"
record="$dest/VENDORED.md"
files=(leaflet.js leaflet.css LICENSE images/layers.png images/layers-2x.png
       images/marker-icon.png images/marker-icon-2x.png images/marker-shadow.png)

check=0
range="1.9.x"
if [[ "${1:-}" == "--check" ]]; then
  check=1
  range="$(sed -n 's/^- Version: `\(.*\)`$/\1/p' "$record")"
  [[ -n "$range" ]] || { echo "no version recorded in $record" >&2; exit 1; }
elif [[ -n "${1:-}" ]]; then
  range="$1"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent --json "leaflet@$range" >pack.json
read -r version tarball integrity < <(node -e '
  const [p] = JSON.parse(require("fs").readFileSync("pack.json", "utf8"));
  console.log(p.version, p.filename, p.integrity);')
registry="$(npm view "leaflet@$version" dist.integrity)"
computed="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$computed" != "$registry" || "$integrity" != "$registry" ]]; then
  echo "integrity mismatch for leaflet@$version: $computed vs registry $registry" >&2
  exit 1
fi
tar -xzf "$tarball"
src() { [[ "$1" == LICENSE ]] && echo "package/LICENSE" || echo "package/dist/$1"; }

if (( check )); then
  grep -q "^- Integrity: \`$integrity\`$" "$record" \
    || { echo "VENDORED.md records another tarball than leaflet@$version ($integrity)" >&2; exit 1; }
  for f in "${files[@]}"; do
    cmp -s "$(src "$f")" "$dest/$f" || { echo "differs from leaflet@$version: $f" >&2; exit 1; }
  done
  (cd "$dest" && sed -n '/^```sha256$/,/^```$/p' VENDORED.md | grep -v '^```' | sha256sum --quiet -c -)
  echo "vendored Leaflet matches leaflet@$version from npm ($integrity)"
  exit 0
fi

rm -rf "$dest" && mkdir -p "$dest/images"
for f in "${files[@]}"; do cp "$(src "$f")" "$dest/$f"; done
{
  echo "# Vendored: Leaflet"
  echo
  echo "Copied unchanged from the npm package; BSD-2-Clause, see \`LICENSE\`. Do not edit these files:"
  echo "\`tests/live/test_vendored_leaflet.py\` checks them against the sha256 list below."
  echo
  echo "- Package: \`leaflet\` (https://www.npmjs.com/package/leaflet)"
  echo "- Version: \`$version\`"
  echo "- Tarball: \`$tarball\`"
  echo "- Integrity: \`$integrity\`"
  echo "- Taken: \`dist/leaflet.js\`, \`dist/leaflet.css\`, \`dist/images/*\`, \`LICENSE\`"
  echo
  echo "## Refresh or verify"
  echo
  echo '```sh'
  echo "make vendor-leaflet                      # newest 1.9.x; or: gateway/live/vendor-leaflet.sh 1.9.4"
  echo "make vendor-leaflet-check                # re-fetch $version, prove the files are the package's"
  echo '```'
  echo
  echo "By hand, the script does:"
  echo
  echo '```sh'
  echo "cd \"\$(mktemp -d)\" && npm pack leaflet@$version && tar -xzf $tarball"
  echo "npm view leaflet@$version dist.integrity     # must equal: sha512-\$(openssl dgst -sha512 -binary $tarball | base64 -w0)"
  echo "cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE gateway/live/static/vendor/leaflet/"
  echo "cp package/dist/images/* gateway/live/static/vendor/leaflet/images/"
  echo '```'
  echo
  echo "## Files"
  echo
  echo '```sha256'
  (cd "$dest" && sha256sum "${files[@]}")
  echo '```'
} >"$record"
(cd "$dest" && sed -n '/^```sha256$/,/^```$/p' VENDORED.md | grep -v '^```' | sha256sum --quiet -c -)
echo "vendored leaflet@$version into $dest"

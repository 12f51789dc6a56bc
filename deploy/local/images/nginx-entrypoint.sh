#!/bin/bash
# Like the official image: substitute only the variables that are set.
set -euo pipefail
out=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
vars=$(printf '${%s} ' $(env | cut -d= -f1))
for template in /etc/nginx/templates/*.template; do
  [[ -e $template ]] || continue
  name=$(basename "$template" .template)
  envsubst "$vars" <"$template" >"$out/$name"
done
exec "$@"

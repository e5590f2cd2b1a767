#!/usr/bin/env bash
# Installs the Debian packages the build, the cluster and the tests need,
# only those that are missing, so a second run costs nothing.
set -euo pipefail
. "$(dirname "$0")/env.sh"

packages=(
	build-essential
	postgresql-15 postgresql-contrib postgresql-server-dev-15
	libpq-dev libmicrohttpd-dev libjwt-dev libjansson-dev libssl-dev
	curl openssl python3 wrk valgrind bc nginx
	clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	log "all build and test packages present"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
log "installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages paymesh's tests and `make dev` need, only when missing.
# Servers: etcd (config), NATS JetStream (bus), MariaDB (database); kubectl (k8s rendering);
# Chromium + CJK fonts (console tests). Envoy and buf come from
# PyPI wheels inside .venv. Needs root (or sudo) only when something is missing.
# Tests start their own throwaway servers on free ports (paymesh/testing/servers.py); the
# packages' system services are never used.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v nats-server >/dev/null || need+=(nats-server)
{ command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; } ||
  need+=(mariadb-server)
# kubectl renders k8s/ (`kubectl kustomize`) in the tests; Debian ships it as kubernetes-client.
command -v kubectl >/dev/null || need+=(kubernetes-client)
# The ops console's tests drive Debian's Chromium through Playwright (never `playwright
# install`); CJK text renders only with the Noto CJK fonts.
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed' ||
  need+=(fonts-noto-cjk)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]} == 0)); then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${need[*]}" >&2
  echo "this script installs them with apt-get (Debian/Ubuntu); install them by hand here" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null

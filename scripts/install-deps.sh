#!/usr/bin/env bash
# Install the Debian packages custody needs to build and test, only those
# missing. Safe to run repeatedly. Needs root (or sudo) for apt-get.
set -euo pipefail

PKGS=(build-essential cmake pkg-config python3 sqlite3
      libcurl4-openssl-dev libsqlite3-dev libssl-dev libpcre2-dev libyaml-dev
      libidn2-dev libunistring-dev libmicrohttpd-dev
      chromium)
# Robustness checks in scripts/test.sh: clang builds the libFuzzer harnesses
# (scripts/fuzz.sh); libclang-rt-dev holds clang's libFuzzer and sanitizer
# runtimes (only "recommended" by clang, so name it: --no-install-recommends);
# valgrind runs the valgrind-clean end-to-end poll; tzdata for time zones.
PKGS+=(clang libclang-rt-dev valgrind tzdata)
# PostgreSQL backend (libpq) and the NATS JetStream outbox (libnats); the
# tests start their own postgres and nats-server on loopback.
PKGS+=(libpq-dev postgresql libnats-dev nats-server)
# Optional: cJSON only for the bench's parser comparison.
if [[ "${CUSTODY_BENCH_DEPS:-0}" == 1 ]]; then PKGS+=(libcjson-dev curl); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

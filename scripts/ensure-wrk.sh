#!/usr/bin/env bash
# Debian's wrk, the load generator of bench/api.py (a C client: the Python one spent a whole
# core of this 2-core machine on 100 connections and measured itself more than the servers).
set -euo pipefail
command -v wrk >/dev/null 2>&1 && exit 0
echo "== installing Debian wrk"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null

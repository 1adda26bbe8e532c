#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (idempotent: does
# nothing when they are there). Run as root, as on CI, or with sudo.
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
	# A package may start its own service where systemd runs; the tests
	# start their own instances on free loopback ports instead.
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		$sudo systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true
	fi
fi

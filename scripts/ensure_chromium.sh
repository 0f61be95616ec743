#!/usr/bin/env bash
# The report page's browser test drives Debian's headless Chromium (/usr/bin/chromium) and fails without
# it. Installs it from Debian's packages when it is missing (sudo only when not root); a no-op otherwise.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get > /dev/null; then
  echo "the browser test needs Chromium at /usr/bin/chromium; install it with your package manager" >&2
  exit 1
fi
as_root=""
if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
$as_root apt-get update
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation

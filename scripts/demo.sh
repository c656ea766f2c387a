#!/usr/bin/env bash
# The demo: set up, build, start the simulated four-host fleet, and drive the MCP server over stdio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build
exec node --import tsx scripts/demo.ts "$@"

#!/usr/bin/env bash
# Kept for old notes: gokart's environment is now one of setup_peers.sh's.
exec bash "$(cd "$(dirname "$0")" && pwd)/setup_peers.sh" gokart

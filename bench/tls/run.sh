#!/usr/bin/env bash
# What a TLS client configuration per connection costs against one shared
# configuration (see src/main.rs). Usage: bench/tls/run.sh [N]  (default 1000)
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet
exec ./target/release/tls-config-bench "$@"

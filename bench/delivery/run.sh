#!/bin/sh
# Delivery benchmark: latency (Twilio webhook ack -> tenant backend) at steady
# rates over 100 tenants, then delivered events/s for a backlog with a fast
# receiver. Release build; prints the figures. Knobs (environment):
#   BENCH_RATES=200,1000  BENCH_SECONDS=10  BENCH_BACKLOG=20000  BENCH_CONCURRENCY=32
set -eu
cd "$(dirname "$0")/../.."
exec cargo test --release --test integration delivery_bench:: -- --ignored --nocapture --test-threads 1

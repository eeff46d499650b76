# The everyday commands. Each recipe is one plain line you can also paste into a shell.

# List the recipes.
default:
    @just --list

# Build everything (debug).
build:
    cargo build --workspace --all-targets

# Run the whole test suite (what CI runs after fmt and clippy).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check && cargo clippy --workspace --all-targets -- -D warnings

# The architecture checks: no import cycle in any crate; the service's share of the code.
arch:
    scripts/check-cycles crates/*/src services/hark/src && scripts/line-counts --max-service-share 15

# Criterion benchmarks; figures go to docs/BENCHMARKS.md.
bench:
    cargo bench -p hark-audio --bench audio

# Monitor fan-out load test (release; CALLSxMONITORS per run), e.g. `just monitor-load 200x0 200x5`.
monitor-load +runs="200x0 200x1 200x2 200x3 200x4 200x5":
    benches/monitor-load.sh {{runs}}

# Fuzz one target for a while, e.g. `just fuzz decode_audio 300` (needs `cargo install cargo-fuzz`).
fuzz target="decode_audio" seconds="300":
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run {{target}} -- -max_total_time={{seconds}}

# Run the service on its embedded defaults (127.0.0.1:8080, ./hark-data).
serve:
    cargo run --release -p hark -- serve

# What CI runs, end to end.
ci:
    bash .ci/run

# SPDX-License-Identifier: MIT OR Apache-2.0
# The crates we publish, checked as crates.io and a distribution get them.

# The crates we publish: cargo package must pass for each.
CRATES=(vpoll vpollctl vpoll-netstack)

# crates_check: cargo package (which builds each crate from its .crate), and
# each .crate carries its README and both licence texts.
crates_check() {
    local args=() c files f version
    for c in "${CRATES[@]}"; do
        args+=(-p "$c")
    done
    (cd "$REPO" && cargo package --allow-dirty "${args[@]}") || return 1
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/Cargo.toml" | head -n1)
    for c in "${CRATES[@]}"; do
        files=$(tar -tzf "$CARGO_TARGET_DIR/package/$c-$version.crate") || return 1
        for f in README.md LICENSE-MIT LICENSE-APACHE; do
            grep -q "^[^/]*/$f\$" <<<"$files" || { echo "crates: $c's .crate has no $f"; return 1; }
        done
    done
    echo "crates: ${CRATES[*]} package, each with README.md, LICENSE-MIT and LICENSE-APACHE"
    # As a user or a distribution builds them: from the unpacked .crates
    # alone, tests and examples too, our crates from their .crates (a patch
    # to the unpacked vpoll), nothing from the workspace.
    local unpacked="$CARGO_TARGET_DIR/package/unpacked"
    rm -rf "$unpacked"
    mkdir -p "$unpacked"
    for c in "${CRATES[@]}"; do
        tar -xzf "$CARGO_TARGET_DIR/package/$c-$version.crate" -C "$unpacked" || return 1
    done
    for c in "${CRATES[@]}"; do
        (cd "$unpacked/$c-$version" &&
            CARGO_TARGET_DIR="$unpacked/target" cargo test --no-run --offline --all-features \
                --config "patch.crates-io.vpoll.path=\"$unpacked/vpoll-$version\"") ||
            { echo "crates: the tests of $c do not build from its .crate"; return 1; }
    done
    echo "crates: ${CRATES[*]} build with their tests and examples from the unpacked .crates"
}

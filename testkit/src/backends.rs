// SPDX-License-Identifier: MIT OR Apache-2.0

//! Which backends a run tests: `VPOLL_TEST_BACKENDS`, comma-separated
//! backend names (`device,eventfd,emulation`). The guest job sets it to every
//! backend its kernel has, so that a missing one fails instead of being
//! skipped; the module's suite takes the kernel's backends from it, the
//! library's and the netstack's suites all of them.

/// The variable.
pub const VAR: &str = "VPOLL_TEST_BACKENDS";

/// The backend names `VPOLL_TEST_BACKENDS` lists, if it is set.
pub fn listed() -> Option<Vec<String>> {
    let list = std::env::var(VAR).ok()?;
    Some(
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

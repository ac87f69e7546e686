// SPDX-License-Identifier: MIT OR Apache-2.0

//! Dropping a `Vpoll` closes every fd it opened (the emulation's second
//! socket too). Alone in its binary, so no other test opens fds meanwhile.

mod common;

use vpoll::Events;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn drop_closes_everything_on_every_backend() {
    for b in common::backends() {
        let before = open_fds();
        let many: Vec<_> = (0..50).map(|_| common::make(b, Events::IN)).collect();
        assert!(open_fds() >= before + 50, "{b}");
        drop(many);
        assert_eq!(open_fds(), before, "{b}: fds leaked");
    }
}

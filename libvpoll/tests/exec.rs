// SPDX-License-Identifier: MIT OR Apache-2.0

//! An inheritable vpoll fd (`cloexec(false)`) goes to an exec'd child, and
//! nothing else of it does: on the emulation the control end stays with the
//! parent, or the child could raise events on the parent's fd. Alone in its
//! binary: the child sees every inheritable fd of the process.

mod common;

use std::os::fd::AsRawFd;
use std::process::Command;

use vpoll::{Events, Vpoll};

#[test]
fn an_exec_d_child_inherits_the_fd_and_nothing_that_could_change_it() {
    for b in common::backends() {
        let vp = Vpoll::builder().backend(b).cloexec(false).build().unwrap();
        let fd = vp.as_raw_fd();
        // The child writes a byte to every fd it inherited but the vpoll fd
        // itself: had it the emulation's control end, the parent's fd would
        // turn readable.
        let out = Command::new("sh")
            .arg("-c")
            .arg(
                r#"seen=no
for f in /proc/self/fd/*; do
  n=${f##*/}
  [ "$n" = "$VPOLL_FD" ] && seen=yes && continue
  [ "$n" -gt 2 ] && ( eval "printf x >&$n" ) 2>/dev/null
done
echo "vpoll fd inherited: $seen""#,
            )
            .env("VPOLL_FD", fd.to_string())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("vpoll fd inherited: yes"), "{b}: {said}");
        // The child has exited: what it wrote is there to see.
        let now = vp.events().unwrap();
        assert!(
            !now.contains(Events::IN),
            "{b}: the child raised IN: {now:?}"
        );
    }
}

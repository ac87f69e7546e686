// SPDX-License-Identifier: MIT OR Apache-2.0

//! `VPOLL_BACKEND` against an explicit choice, in a process of its own (the
//! variable is process-wide).
#![allow(unsafe_code)] // raw system calls to check what the library made

use vpoll::{Backend, Error, Vpoll};

#[test]
fn an_explicit_backend_wins_over_a_malformed_variable() {
    // SAFETY: this test binary has no other test, so no other
    // thread reads the environment meanwhile.
    unsafe { std::env::set_var(vpoll::BACKEND_VAR, "bogus") };
    let vp = Vpoll::builder()
        .backend(Backend::Emulation)
        .build()
        .unwrap();
    assert_eq!(vp.backend(), Backend::Emulation);
    // Without one, the variable decides, and a bad value says so.
    match Vpoll::new() {
        Err(Error::BadBackendVar { value }) => assert_eq!(value, "bogus"),
        other => panic!("VPOLL_BACKEND=bogus gave {other:?}"),
    }
}

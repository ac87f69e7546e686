// SPDX-License-Identifier: MIT OR Apache-2.0

//! The shared library answers to the C library's soname, so programs linked
//! against either load the other unchanged.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvpoll.so.0");
}

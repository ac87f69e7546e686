// SPDX-License-Identifier: MIT OR Apache-2.0

//! What every vpoll test suite shares, in one home: threads proven asleep in
//! the kernel before an event is raised, what an epoll set reports now, and
//! the one variable that names the backends under test. It does not depend on `vpoll`, so the library's own
//! tests use it without a second copy of the library.

pub mod backends;
pub mod epoll;
pub mod waiter;

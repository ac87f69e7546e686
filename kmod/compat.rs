// SPDX-License-Identifier: GPL-2.0

//! The kernel crate's API where it differs between the series we build for.
//!
//! Debian ships more than one Rust-enabled series at a time (7.2 and 7.3 in
//! trixie-backports), and the kernel crate is not a stable API. Each
//! difference the module meets is bridged here and nowhere else; `Kbuild`
//! sets `--cfg kernel_7_3` (7.3 or newer) from the kernel's own version.

use kernel::{
    module_param::ModuleParamAccess,
    ThisModule, //
};

/// A full memory barrier between CPUs (`smp_mb()`). 7.3 names the ordering
/// as an argument.
#[inline(always)]
pub(crate) fn smp_mb() {
    #[cfg(kernel_7_3)]
    kernel::sync::barrier::smp_mb(kernel::sync::barrier::Full);
    #[cfg(not(kernel_7_3))]
    kernel::sync::barrier::smp_mb();
}

/// The value a module parameter was given at load time. 7.3 returns the
/// value; 7.2 a reference to it.
pub(crate) fn param<T: Copy>(param: &ModuleParamAccess<T>) -> T {
    #[cfg(kernel_7_3)]
    return param.value();
    #[cfg(not(kernel_7_3))]
    return *param.value();
}

/// This module's `THIS_MODULE`, for file operations' owner. `module!` of 7.2
/// defines a static of that name; 7.3 an associated constant of the module
/// type.
pub(crate) const fn this_module() -> &'static ThisModule {
    #[cfg(kernel_7_3)]
    return kernel::module::this_module::<crate::VpollModule>();
    #[cfg(not(kernel_7_3))]
    return &crate::THIS_MODULE;
}

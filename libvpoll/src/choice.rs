// SPDX-License-Identifier: MIT OR Apache-2.0

//! Choosing a backend: the caller's choice, `VPOLL_BACKEND`, or the first
//! that works.

use crate::backend::{Backend, ParseBackendError, BACKEND_VAR};
use crate::error::{Error, Result};
use std::sync::OnceLock;

impl Backend {
    /// The backend `VPOLL_BACKEND` forces, if it is set.
    ///
    /// ```
    /// # use vpoll::Backend;
    /// match Backend::from_env()? {
    ///     Some(b) => println!("forced: {b}"),
    ///     None => println!("automatic"),
    /// }
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn from_env() -> Result<Option<Backend>> {
        match std::env::var(BACKEND_VAR) {
            Ok(value) => value
                .parse()
                .map(Some)
                .map_err(|ParseBackendError(value)| Error::BadBackendVar { value }),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(Error::BadBackendVar {
                value: v.to_string_lossy().into_owned(),
            }),
        }
    }
}

/// The backend automatic selection settled on, once one worked.
static AUTO: OnceLock<Backend> = OnceLock::new();

/// Runs `create` with the backend to use: the forced one, the cached automatic
/// choice, or each in order until one works (then cached).
pub(crate) fn select<T>(
    forced: Option<Backend>,
    mut create: impl FnMut(Backend) -> Result<T>,
) -> Result<T> {
    // An explicit choice wins; VPOLL_BACKEND is read (and must be valid) only without one.
    let forced = match forced {
        Some(backend) => Some(backend),
        None => Backend::from_env()?,
    };
    if let Some(backend) = forced {
        return create(backend);
    }
    if let Some(&backend) = AUTO.get() {
        return create(backend);
    }
    let mut tried = Vec::new();
    for backend in Backend::ALL {
        match create(backend) {
            Ok(made) => {
                let _ = AUTO.set(backend);
                return Ok(made);
            }
            Err(Error::Unavailable { backend, source }) => tried.push((backend, source)),
            Err(other) => return Err(other),
        }
    }
    Err(Error::NoBackend { tried })
}

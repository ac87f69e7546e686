// SPDX-License-Identifier: GPL-2.0

//! A misc device whose files can be polled.
//!
//! `kernel::miscdevice` in 7.2 has no `poll` and leaves `file_operations.owner`
//! NULL, so nothing keeps the module loaded under an open file. This is the
//! same idea with both: one `file_operations` table per [`PollDevice`] type,
//! built once with its module as owner, and thin trampolines that turn raw
//! pointers into safe types and errors into errnos.

use core::marker::PhantomData;
use kernel::{
    bindings,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    seq_file::SeqFile,
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule,
};

use crate::wait_queue::PollTable;

/// `FMODE_NOWAIT` (include/linux/fs.h), which bindgen does not see through
/// its cast: the file's reads and writes never block, so io_uring does them
/// inline, on a blocking fd too, rather than in a worker thread. (That takes
/// `read_iter` and `write_iter`: with only `read` and `write`, io_uring
/// would wait on a blocking fd until its mask showed IN or OUT.)
const FMODE_NOWAIT: u32 = 1 << 27;

/// The per-open state of a pollable misc device, whose reads and writes
/// never block.
pub(crate) trait PollDevice: Sized + Send + Sync {
    /// Creates the state of a newly opened file.
    fn open(file: &File) -> Result<Pin<KBox<Self>>>;
    /// `ioctl(2)`, from native and 32-bit callers alike: a device whose
    /// arguments are integers, or pointers to structures laid out alike for
    /// both, needs no translation. `files` finds the caller's other files of
    /// this device.
    fn ioctl(self: Pin<&Self>, files: OwnFiles<Self>, cmd: u32, arg: usize) -> Result<isize>;
    /// A read (`read(2)`, `readv(2)`, io_uring) into `dest`; returns the
    /// bytes written.
    fn read(self: Pin<&Self>, dest: &mut IovIterDest<'_>) -> Result<usize>;
    /// A write from `source`; returns the bytes consumed.
    fn write(self: Pin<&Self>, source: &mut IovIterSource<'_>) -> Result<usize>;
    /// Registers the poller in `table` and returns the ready events.
    fn poll(self: Pin<&Self>, file: &File, table: PollTable<'_>) -> u32;
    /// Adds lines to `/proc/<pid>/fdinfo/<fd>`.
    fn show_fdinfo(self: Pin<&Self>, m: &SeqFile);
}

/// The `file_operations` of `T`'s files, owned by a module.
pub(crate) struct FileOperations<T> {
    ops: bindings::file_operations,
    _t: PhantomData<T>,
}

// SAFETY: The table is immutable after construction and only read by the VFS.
unsafe impl<T> Sync for FileOperations<T> {}

impl<T: PollDevice> FileOperations<T> {
    /// Builds the table; the VFS takes a reference on `owner` for every open file,
    /// so the module cannot be unloaded while one exists.
    pub(crate) const fn new(owner: &'static ThisModule) -> Self {
        Self {
            ops: bindings::file_operations {
                owner: owner.as_ptr(),
                open: Some(Self::open),
                release: Some(Self::release),
                // The iterator forms only: what `read(2)` and io_uring alike
                // call without a detour (see `FMODE_NOWAIT`).
                read_iter: Some(Self::read_iter),
                write_iter: Some(Self::write_iter),
                poll: Some(Self::poll),
                unlocked_ioctl: Some(Self::ioctl),
                // A 32-bit caller's integer argument arrives zero-extended: the same call.
                compat_ioctl: Some(Self::ioctl),
                show_fdinfo: Some(Self::show_fdinfo),
                llseek: Some(bindings::noop_llseek),
                ..pin_init::zeroed()
            },
            _t: PhantomData,
        }
    }

    /// # Safety
    ///
    /// `file` must be a file of this table with live private data from [`Self::open`].
    unsafe fn device<'a>(file: *mut bindings::file) -> Pin<&'a T> {
        // SAFETY: The caller guarantees that `private_data` came from `into_foreign`
        // in `open` and that `release` (which reclaims it) has not run yet.
        unsafe { <Pin<KBox<T>> as ForeignOwnable>::borrow((*file).private_data) }
    }

    /// # Safety
    ///
    /// `inode` and `raw` must be the inode and the file of an open of a misc device
    /// whose `file_operations` are this table's, still being set up (no other user
    /// sees the file), with `private_data` holding the `miscdevice`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, raw: *mut bindings::file) -> c_int {
        // SAFETY: The file and inode are valid for the duration of `open`. A stream has
        // no position, which also spares readers and writers the `f_pos` lock.
        let ret = unsafe { bindings::stream_open(inode, raw) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: The file is being opened: nobody else sees it yet.
        unsafe { (*raw).f_mode |= FMODE_NOWAIT };
        // SAFETY: The file is valid and not in an `fdget_pos` region during `open`.
        let file = unsafe { File::from_raw_file(raw) };
        match T::open(file) {
            Ok(device) => {
                // SAFETY: `open` may set the private data; `misc_open` stored the
                // `miscdevice` there, which we no longer need.
                unsafe { (*raw).private_data = device.into_foreign() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `file` must be a file that [`Self::open`] opened successfully, being
    /// released: no other call on it runs now or later.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `release` owns the private data set in `open`; nothing uses it after.
        drop(unsafe { <Pin<KBox<T>> as ForeignOwnable>::from_foreign((*file).private_data) });
        0
    }

    /// # Safety
    ///
    /// `iocb` must be a valid kiocb whose file [`Self::open`] opened and that
    /// is not released yet; `iter` a valid destination iterator for this call.
    unsafe extern "C" fn read_iter(iocb: *mut bindings::kiocb, iter: *mut bindings::iov_iter) -> isize {
        // SAFETY: The VFS passes a valid kiocb of an open file of this table.
        let file = unsafe { (*iocb).ki_filp };
        // SAFETY: `iter` is a valid `ITER_DEST` iterator, used only here for
        // this call, whose memory may be written meanwhile.
        let dest = unsafe { IovIterDest::from_raw(iter) };
        // SAFETY: The file is open, so its private data is live.
        match unsafe { Self::device(file) }.read(dest) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `iocb` must be a valid kiocb whose file [`Self::open`] opened and that
    /// is not released yet; `iter` a valid source iterator for this call.
    unsafe extern "C" fn write_iter(iocb: *mut bindings::kiocb, iter: *mut bindings::iov_iter) -> isize {
        // SAFETY: The VFS passes a valid kiocb of an open file of this table.
        let file = unsafe { (*iocb).ki_filp };
        // SAFETY: `iter` is a valid `ITER_SOURCE` iterator, used only here for
        // this call, whose memory may be read meanwhile.
        let source = unsafe { IovIterSource::from_raw(iter) };
        // SAFETY: The file is open, so its private data is live.
        match unsafe { Self::device(file) }.write(source) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` must be a file [`Self::open`] opened, not released yet; `table`
    /// null or a valid poll table for this call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table,
    ) -> bindings::__poll_t {
        // SAFETY: The file is open, so its private data is live.
        let device = unsafe { Self::device(file) };
        // SAFETY: The file is valid for this call and not in an `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: The VFS passes a null or valid table that outlives this call.
        let table = unsafe { PollTable::from_raw(table) };
        device.poll(file, table)
    }

    /// # Safety
    ///
    /// `file` must be a file [`Self::open`] opened, not released yet.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: The file is valid for this call, and `f_op` is fixed once it is open.
        let ops = unsafe { (*file).f_op };
        // INVARIANT: an ioctl reaches us only through a file of this table.
        let files = OwnFiles::<T> {
            ops,
            _t: PhantomData,
        };
        // SAFETY: The file is open, so its private data is live.
        match unsafe { Self::device(file) }.ioctl(files, cmd, arg as usize) {
            Ok(ret) => ret as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// `file` must be a file [`Self::open`] opened, not released yet; `m` a
    /// valid seq_file that may be written for this call.
    unsafe extern "C" fn show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
        // SAFETY: The file is open, so its private data is live.
        let device = unsafe { Self::device(file) };
        // SAFETY: procfs passes a valid `seq_file` that is ours for this call.
        device.show_fdinfo(unsafe { SeqFile::from_raw(m) });
    }
}

/// The calling process's files of one [`FileOperations`] table, found by
/// their fd numbers (for an ioctl that acts on several files at once).
///
/// # Invariants
///
/// `ops` is the `file_operations` of a [`FileOperations<T>`].
pub(crate) struct OwnFiles<T> {
    ops: *const bindings::file_operations,
    _t: PhantomData<T>,
}

// One pointer, passed by value: a single-file ioctl, the hot path, then
// keeps it in a register and never spills it.
impl<T> Clone for OwnFiles<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for OwnFiles<T> {}

impl<T: PollDevice> OwnFiles<T> {
    /// The file at `fd` in the caller's fd table, until the result is
    /// dropped: `EBADF` if no file is open there, `EINVAL` if it is not one
    /// of this device's (which is then left untouched).
    pub(crate) fn get(&self, fd: u32) -> Result<OwnFile<'_, T>> {
        // SAFETY: `fdget` takes any number. What it returns is put by
        // `OwnFile`'s drop, within this system call (see `OwnFile`).
        let got = OwnFile {
            fd: unsafe { bindings::fdget(fd) },
            _call: PhantomData,
        };
        let file = got.file();
        if file.is_null() {
            return Err(EBADF);
        }
        // SAFETY: `got` holds the file, and `f_op` is fixed once it is open.
        if unsafe { (*file).f_op } != self.ops {
            return Err(EINVAL);
        }
        // INVARIANT: the file is held and its table is `T`'s.
        Ok(got)
    }
}

/// A file of `T`'s table, held from the caller's fd table with `fdget`:
/// while no other task shares that table, without taking a reference (the
/// cost of a batch entry is mostly this lookup).
///
/// # Invariants
///
/// `fd` came from `fdget` and is put on drop. It borrows the [`OwnFiles`]
/// of one system call, so it is put before that call returns, as `fdget`
/// requires; nothing in between closes a file or clones the task. Once
/// [`OwnFiles::get`] returns it, its file's `f_op` is the table of a
/// [`FileOperations<T>`], so it was opened by that table's `open`.
pub(crate) struct OwnFile<'call, T> {
    fd: bindings::fd,
    _call: PhantomData<&'call OwnFiles<T>>,
}

impl<T> OwnFile<'_, T> {
    /// The file, or null for an empty `fd`.
    fn file(&self) -> *mut bindings::file {
        let flags = (bindings::FDPUT_FPUT | bindings::FDPUT_POS_UNLOCK) as c_ulong;
        (self.fd.word & !flags) as *mut bindings::file
    }
}

impl<T: PollDevice> OwnFile<'_, T> {
    /// The file's device state.
    pub(crate) fn device(&self) -> Pin<&T> {
        // SAFETY: A file of this table is in an fd table only once `open` set
        // its private data (a failed open is never installed), and holding it
        // keeps `release` from running (type invariant).
        unsafe { FileOperations::<T>::device(self.file()) }
    }
}

impl<T> Drop for OwnFile<'_, T> {
    fn drop(&mut self) {
        // `fdput`: only a file `fdget` took a reference on is put.
        if self.fd.word & bindings::FDPUT_FPUT as c_ulong != 0 {
            // SAFETY: `fdget` took this reference for us (type invariant).
            unsafe { bindings::fput(self.file()) };
        }
    }
}

/// A registered misc device whose files are `T`s.
///
/// # Invariants
///
/// `misc` is registered with `misc_register` and is deregistered exactly once, on drop.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister` may run on another thread than `misc_register`.
unsafe impl<T> Send for Registration<T> {}
// SAFETY: `&Registration` exposes no operation.
unsafe impl<T> Sync for Registration<T> {}

impl<T: PollDevice> Registration<T> {
    /// Registers `/dev/<name>` with a dynamic minor and the given node mode.
    pub(crate) fn register(
        name: &'static CStr,
        mode: u16,
        fops: &'static FileOperations<T>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = &fops.ops;
                misc.mode = mode;
                // SAFETY: `slot` is valid for writes.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds a filled-in `miscdevice`; it is pinned, and our
                // `PinnedDrop` deregisters it before the memory goes.
                // INVARIANT: on success the device is registered.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant).
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

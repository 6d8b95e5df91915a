//! `tmpcopyup`: copy what a tmpfs covers into it, keeping modes, owners and symlinks.

use std::fs;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::sys::mount::{lchown, proc_fd_path};
use crate::sys::SysError;

/// Copy the tree under `from` into `to` (both directory fds).
pub fn copy_dir(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), SysError> {
    let src = proc_fd_path(from);
    let dst = fs::read_link(proc_fd_path(to)).map_err(|e| SysError::io("readlink", &proc_fd_path(to), &e))?;
    let md = fs::metadata(&src).map_err(|e| SysError::io("stat", &src, &e))?;
    copy_tree(&src, &dst)?;
    fs::set_permissions(&dst, fs::Permissions::from_mode(md.mode() & 0o7777))
        .map_err(|e| SysError::io("chmod", &dst, &e))?;
    lchown(&dst, md.uid(), md.gid())
}

fn copy_tree(src: &Path, dst: &Path) -> Result<(), SysError> {
    for entry in fs::read_dir(src).map_err(|e| SysError::io("readdir", src, &e))? {
        let entry = entry.map_err(|e| SysError::io("readdir", src, &e))?;
        let s = entry.path();
        let d = dst.join(entry.file_name());
        let md = fs::symlink_metadata(&s).map_err(|e| SysError::io("stat", &s, &e))?;
        let ft = md.file_type();
        if ft.is_dir() {
            fs::create_dir(&d).map_err(|e| SysError::io("mkdir", &d, &e))?;
            copy_tree(&s, &d)?;
        } else if ft.is_symlink() {
            let t = fs::read_link(&s).map_err(|e| SysError::io("readlink", &s, &e))?;
            std::os::unix::fs::symlink(&t, &d).map_err(|e| SysError::io("symlink", &d, &e))?;
        } else if ft.is_file() {
            fs::copy(&s, &d).map_err(|e| SysError::io("copy", &d, &e))?;
        } else {
            continue;
        }
        if !ft.is_symlink() {
            fs::set_permissions(&d, fs::Permissions::from_mode(md.mode() & 0o7777))
                .map_err(|e| SysError::io("chmod", &d, &e))?;
        }
        lchown(&d, md.uid(), md.gid())?;
    }
    Ok(())
}

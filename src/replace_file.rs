//! Files pgconverge writes on the machine it runs on, written whole: the content
//! goes into a new temporary file beside the target, which is then renamed over
//! it. A reader sees the old file or the new one, never half of one; a name
//! another user planted (a link where the temporary file would go) is never
//! followed; and the new file has the mode it must have from its first byte.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of a file only its owner may read: a saved plan's.
const PRIVATE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("cannot read `{path}`: {source}")]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a temporary file in `{directory}`: {source}")]
    Create {
        directory: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot give `{path}` the owner {uid} and group {gid} it had: {source}")]
    Owner {
        path: PathBuf,
        uid: u32,
        gid: u32,
        source: std::io::Error,
    },
}

/// Writes `contents` to `path` readable by its owner alone (mode 0600). The file
/// is created with that mode, so it never exists with a wider one, even for a
/// moment; a file already at `path` (whatever its mode) is replaced, not
/// rewritten, so its mode does not carry over.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), ReplaceError> {
    let mut temporary = temporary_beside(path)?;
    write_all(&mut temporary, path, contents)?;
    rename_over(temporary, path)
}

/// Writes `contents` in place of the file at `path`, which keeps its mode and,
/// when pgconverge runs as root, its owner and group: an inventory another user
/// owns, or one readable by a group only, stays so after an edit. A link at
/// `path` stays a link: the file it points to is the one replaced.
pub fn write_keeping_mode_and_owner(path: &Path, contents: &[u8]) -> Result<(), ReplaceError> {
    let target = std::fs::canonicalize(path).map_err(|source| ReplaceError::Inspect {
        path: path.to_path_buf(),
        source,
    })?;
    let original = std::fs::metadata(&target).map_err(|source| ReplaceError::Inspect {
        path: target.clone(),
        source,
    })?;
    let mut temporary = temporary_beside(&target)?;
    write_all(&mut temporary, &target, contents)?;
    let created = temporary
        .as_file()
        .metadata()
        .map_err(|source| ReplaceError::Write {
            path: target.clone(),
            source,
        })?;
    // The temporary file belongs to whoever runs pgconverge; only root may give
    // it another owner. The owner is set before the mode, since a change of owner
    // clears the set-user-ID and set-group-ID bits.
    let running_as_root = created.uid() == 0;
    let other_owner = (original.uid(), original.gid()) != (created.uid(), created.gid());
    if running_as_root && other_owner {
        std::os::unix::fs::fchown(
            temporary.as_file(),
            Some(original.uid()),
            Some(original.gid()),
        )
        .map_err(|source| ReplaceError::Owner {
            path: target.clone(),
            uid: original.uid(),
            gid: original.gid(),
            source,
        })?;
    }
    let mode = original.permissions().mode() & 0o7777;
    temporary
        .as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|source| ReplaceError::Write {
            path: target.clone(),
            source,
        })?;
    rename_over(temporary, &target)
}

/// A new file in the directory of `path`, mode 0600, under a name no other
/// process chose (created exclusively, so a link planted there is refused).
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile, ReplaceError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(
        ".{}.",
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".pgconverge-tmp")
        .permissions(Permissions::from_mode(PRIVATE_MODE))
        .tempfile_in(&directory)
        .map_err(|source| ReplaceError::Create { directory, source })
}

fn write_all(
    temporary: &mut tempfile::NamedTempFile,
    path: &Path,
    contents: &[u8],
) -> Result<(), ReplaceError> {
    let failed = |source| ReplaceError::Write {
        path: path.to_path_buf(),
        source,
    };
    temporary.write_all(contents).map_err(failed)?;
    temporary.as_file().sync_all().map_err(failed)
}

/// Renames the temporary file over `path`; on failure the temporary file is
/// removed, and `path` is as it was.
fn rename_over(temporary: tempfile::NamedTempFile, path: &Path) -> Result<(), ReplaceError> {
    temporary
        .persist(path)
        .map(drop)
        .map_err(|error| ReplaceError::Write {
            path: path.to_path_buf(),
            source: error.error,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn a_private_file_is_0600_even_where_a_wider_one_was() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let plan = directory.path().join("plan.json");
        write_private(&plan, b"first").expect("written");
        assert_eq!(mode_of(&plan), 0o600);
        std::fs::set_permissions(&plan, Permissions::from_mode(0o644)).expect("chmod");
        write_private(&plan, b"second").expect("written again");
        assert_eq!(mode_of(&plan), 0o600);
        assert_eq!(std::fs::read(&plan).expect("read"), b"second");
        // Nothing is left beside it.
        let entries = std::fs::read_dir(directory.path()).expect("listed").count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn a_private_file_replaces_a_link_rather_than_writing_through_it() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let elsewhere = directory.path().join("elsewhere");
        std::fs::write(&elsewhere, "not to be touched").expect("write");
        let plan = directory.path().join("plan.json");
        std::os::unix::fs::symlink(&elsewhere, &plan).expect("symlink");
        write_private(&plan, b"the plan").expect("written");
        assert_eq!(
            std::fs::read_to_string(&elsewhere).expect("read"),
            "not to be touched"
        );
        assert!(!plan.is_symlink());
        assert_eq!(mode_of(&plan), 0o600);
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_link_stays_a_link() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let inventory = directory.path().join("inventory.yml");
        std::fs::write(&inventory, "old").expect("write");
        std::fs::set_permissions(&inventory, Permissions::from_mode(0o640)).expect("chmod");
        write_keeping_mode_and_owner(&inventory, b"new").expect("written");
        assert_eq!(mode_of(&inventory), 0o640);
        assert_eq!(std::fs::read_to_string(&inventory).expect("read"), "new");

        let link = directory.path().join("hosts.yml");
        std::os::unix::fs::symlink("inventory.yml", &link).expect("symlink");
        write_keeping_mode_and_owner(&link, b"through the link").expect("written");
        assert!(link.is_symlink());
        assert_eq!(
            std::fs::read_to_string(&inventory).expect("read"),
            "through the link"
        );
        assert_eq!(mode_of(&inventory), 0o640);
    }

    #[test]
    fn a_replaced_file_keeps_its_owner_and_group_when_root_writes_it() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let inventory = directory.path().join("inventory.yml");
        std::fs::write(&inventory, "old").expect("write");
        let ours = std::fs::metadata(&inventory).expect("metadata");
        if ours.uid() != 0 {
            // Only root may give a file away; as anyone else the owner is ours.
            return;
        }
        std::os::unix::fs::chown(&inventory, Some(65534), Some(65534)).expect("chown");
        write_keeping_mode_and_owner(&inventory, b"new").expect("written");
        let now = std::fs::metadata(&inventory).expect("metadata");
        assert_eq!((now.uid(), now.gid()), (65534, 65534));
    }
}

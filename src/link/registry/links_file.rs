//! The links file: the registry's link set as `{"links": [...]}` JSON next to the
//! config file, written atomically (temporary file, sync, rename) and owner-only
//! because it holds link passwords.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::invalid_text;
use crate::config::LinkConfig;

/// The file's layout.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedLinks {
    links: Vec<LinkConfig>,
}

/// The links saved in `path`, `None` if there is no such file.
/// What is wrong is returned as text; the caller names the file.
pub(super) fn load(path: &Path, local_cluster: &str) -> Result<Option<Vec<LinkConfig>>, String> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let saved: SavedLinks = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    LinkConfig::validate_set(&saved.links, local_cluster).map_err(|e| invalid_text(&e))?;
    Ok(Some(saved.links))
}

/// Writes `{"links": [...]}` to a temporary file beside `path` (owner-only: it
/// holds passwords), syncs it and renames it over `path`.
pub(super) fn save(path: &Path, links: &[LinkConfig]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    let text = serde_json::to_vec_pretty(&serde_json::json!({ "links": links }))
        .map_err(std::io::Error::other)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&text)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable; a directory that cannot be opened only loses that.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            dir.sync_all()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crossbeam::channel::unbounded;

    use super::super::tests::{link, registry, scratch_dir, sent};
    use crate::config::LinkConfig;
    use crate::link::registry::LinkRegistry;
    use crate::link::LinkState;

    #[test]
    fn do_api_changes_survive_a_restart_through_the_links_file() {
        let dir = scratch_dir("persist");
        let file = dir.join("meridian.links.json");
        let (reg, _rx) = registry(vec![link("huawei")], Some(file.clone()));
        assert!(!file.exists(), "nothing is written before a change");
        reg.create(link("aws")).unwrap();
        reg.update("huawei", serde_json::json!({ "enable": false }))
            .unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the file holds passwords");
        // The config still lists only "huawei", enabled: the links file wins.
        let (again, rx) = registry(vec![link("huawei")], Some(file.clone()));
        let links: Vec<LinkConfig> = again.list().into_iter().map(|(l, _)| l).collect();
        let mut disabled = link("huawei");
        disabled.enable = false;
        assert_eq!(links, vec![disabled, link("aws")]);
        assert_eq!(
            again.metrics("huawei").unwrap().state(),
            LinkState::Disabled
        );
        again.delete("aws").unwrap();
        drop(rx);
        let (third, _rx) = registry(Vec::new(), Some(file));
        assert_eq!(third.list().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn is_a_broken_links_file_refused_naming_it() {
        let dir = scratch_dir("broken");
        let file = dir.join("meridian.links.json");
        std::fs::write(&file, "{\"links\": [{\"name\": 5}]}").unwrap();
        let (tx, _rx) = unbounded();
        let err = LinkRegistry::new("aliyun".into(), Vec::new(), Some(file.clone()), tx.clone())
            .err()
            .expect("broken file refused");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot use the links file {}: ", file.display())),
            "{text}"
        );
        let saved = serde_json::json!({ "links": [link("aliyun")] }).to_string();
        std::fs::write(&file, saved).unwrap();
        let err = LinkRegistry::new("aliyun".into(), Vec::new(), Some(file.clone()), tx)
            .err()
            .expect("invalid link refused");
        assert!(err.to_string().contains("link[0].name: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn does_a_failed_save_change_nothing() {
        let dir = scratch_dir("unwritable");
        let file = dir.join("missing-dir").join("meridian.links.json");
        let (reg, rx) = registry(vec![link("huawei")], Some(file));
        let err = reg.create(link("aws")).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(
            err.to_string().starts_with("cannot save the links to "),
            "{err}"
        );
        assert!(reg.get("aws").is_none());
        assert!(reg.delete("huawei").is_err());
        assert!(reg.get("huawei").is_some());
        assert!(sent(&rx).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The control side's authoritative set of links: what the config file asked for
//! plus what the admin API changed since, kept in a JSON file next to the config
//! file so runtime changes survive a restart. Every accepted change is validated,
//! persisted, and then sent to the link shard as a [`LinkCommand`], in that order.
//!
//! Also answers the broker's question "may this client speak the link protocol?"
//! ([`LinkRegistry::accepts`]). Control path only: a mutex is fine here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam::channel::Sender;

use super::command::LinkCommand;
use super::metrics::{LinkMetrics, LinkState};
use crate::config::{ConfigError, LinkConfig};

mod links_file;

/// The links and their counter blocks; one entry per name.
pub struct LinkRegistry {
    local_cluster: String,
    persist: Option<PathBuf>,
    commands: Sender<LinkCommand>,
    inner: Mutex<Inner>,
    /// Set once the "changes are not persisted" warning was logged.
    warned_volatile: AtomicBool,
}

struct Inner {
    /// In creation order (config order first).
    links: Vec<LinkConfig>,
    metrics: HashMap<String, Arc<LinkMetrics>>,
}

/// What the broker should do with a CONNECT that claims to be a link peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAuth {
    /// An enabled link of that name exists and the credentials match.
    Accepted,
    /// No enabled link of that name exists here.
    UnknownCluster,
    /// The link exists but the username or password differ.
    BadCredentials,
}

/// Why a registry operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The link breaks a rule (HTTP 400).
    #[error("{}", invalid_text(.0))]
    Invalid(ConfigError),
    /// No link has this name (HTTP 404).
    #[error("no link named {0:?}")]
    NotFound(String),
    /// A link with this name already exists (HTTP 409).
    #[error("a link named {0:?} already exists")]
    Exists(String),
    /// The change could not be written to the links file (HTTP 500); nothing changed.
    #[error("cannot save the links to {}: {source}", path.display())]
    Persist {
        path: PathBuf,
        source: std::io::Error,
    },
    /// At start-up, the links file exists but cannot be used.
    #[error("cannot use the links file {}: {problem} (fix or delete it; it overrides [[link]] in the config)", path.display())]
    Load { path: PathBuf, problem: String },
}

impl RegistryError {
    /// The HTTP status the admin API answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            RegistryError::Invalid(_) => 400,
            RegistryError::NotFound(_) => 404,
            RegistryError::Exists(_) => 409,
            RegistryError::Persist { .. } | RegistryError::Load { .. } => 500,
        }
    }
}

/// `key: problem` for a rule violation (the "invalid config" prefix is for files).
fn invalid_text(err: &ConfigError) -> String {
    match err {
        ConfigError::Invalid { key, problem } => format!("{key}: {problem}"),
        other => other.to_string(),
    }
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    })
}

impl LinkRegistry {
    /// Where the links of `config_file` are kept: `<dir>/<stem>.links.json`
    /// (`/etc/meridian/meridian.toml` → `/etc/meridian/meridian.links.json`).
    pub fn persist_path_for(config_file: &Path) -> PathBuf {
        let stem = config_file
            .file_stem()
            .map_or_else(|| "meridian".into(), |s| s.to_string_lossy().into_owned());
        config_file.with_file_name(format!("{stem}.links.json"))
    }

    /// `links` from the config file; `persist` is where runtime changes are kept
    /// (`None`: in memory only). If the `persist` file exists, it is the link set
    /// (it was written from the config's links plus API changes).
    pub fn new(
        local_cluster: String,
        links: Vec<LinkConfig>,
        persist: Option<PathBuf>,
        commands: Sender<LinkCommand>,
    ) -> Result<Arc<Self>, RegistryError> {
        let loaded = persist.as_deref().map(|path| {
            links_file::load(path, &local_cluster).map_err(|problem| RegistryError::Load {
                path: path.to_path_buf(),
                problem,
            })
        });
        let links = match loaded {
            Some(Err(e)) => return Err(e),
            Some(Ok(Some(saved))) => {
                let file = persist.as_deref().unwrap_or(Path::new("")).display();
                if saved == links {
                    tracing::info!(%file, links = saved.len(), "links read from the links file");
                } else {
                    tracing::warn!(
                        %file,
                        "[[link]] in the config differs from the links file, which wins \
                         (it holds the admin API's changes); delete it to use the config's links"
                    );
                }
                saved
            }
            Some(Ok(None)) | None => {
                LinkConfig::validate_set(&links, &local_cluster).map_err(RegistryError::Invalid)?;
                links
            }
        };
        let metrics = links
            .iter()
            .map(|link| {
                let m = Arc::new(LinkMetrics::default());
                initial_state(&m, link.enable);
                (link.name.clone(), m)
            })
            .collect();
        Ok(Arc::new(LinkRegistry {
            local_cluster,
            persist,
            commands,
            inner: Mutex::new(Inner { links, metrics }),
            warned_volatile: AtomicBool::new(false),
        }))
    }

    /// Sends `Upsert` for every link (called once when the link shard is up).
    pub fn start_all(&self) {
        let inner = self.lock();
        for link in &inner.links {
            if let Some(metrics) = inner.metrics.get(&link.name) {
                self.send(LinkCommand::Upsert {
                    config: link.clone(),
                    metrics: Arc::clone(metrics),
                });
            }
        }
    }

    /// Every link with its counters, in creation order.
    pub fn list(&self) -> Vec<(LinkConfig, Arc<LinkMetrics>)> {
        let inner = self.lock();
        inner
            .links
            .iter()
            .filter_map(|l| Some((l.clone(), Arc::clone(inner.metrics.get(&l.name)?))))
            .collect()
    }

    /// The link named `name` with its counters.
    pub fn get(&self, name: &str) -> Option<(LinkConfig, Arc<LinkMetrics>)> {
        let inner = self.lock();
        let link = inner.links.iter().find(|l| l.name == name)?;
        Some((link.clone(), Arc::clone(inner.metrics.get(name)?)))
    }

    /// The counters of the link named `name`.
    pub fn metrics(&self, name: &str) -> Option<Arc<LinkMetrics>> {
        self.lock().metrics.get(name).cloned()
    }

    /// Adds a link and starts it (if enabled).
    pub fn create(&self, config: LinkConfig) -> Result<(), RegistryError> {
        config
            .validate(&link_key(&config.name), &self.local_cluster)
            .map_err(RegistryError::Invalid)?;
        let mut inner = self.lock();
        if inner.links.iter().any(|l| l.name == config.name) {
            return Err(RegistryError::Exists(config.name));
        }
        let mut next = inner.links.clone();
        next.push(config.clone());
        self.save(&next)?;
        inner.links = next;
        let metrics = Arc::new(LinkMetrics::default());
        initial_state(&metrics, config.enable);
        inner
            .metrics
            .insert(config.name.clone(), Arc::clone(&metrics));
        self.send(LinkCommand::Upsert { config, metrics });
        Ok(())
    }

    /// Merges the keys of `patch` (a JSON object) over the link's configuration,
    /// validates, persists and restarts the link. `name` may not change; a `null`
    /// clears an optional key (`username`, `password`). An update that changes
    /// nothing is not sent to the link shard.
    pub fn update(
        &self,
        name: &str,
        patch: serde_json::Value,
    ) -> Result<LinkConfig, RegistryError> {
        let key = link_key(name);
        let serde_json::Value::Object(patch) = patch else {
            return Err(invalid(
                key,
                "expected a JSON object of link keys, e.g. {\"enable\": false}",
            ));
        };
        let mut inner = self.lock();
        let index = inner
            .links
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
        let current = &inner.links[index];
        let mut merged = serde_json::to_value(current).map_err(|e| {
            invalid(
                key.as_str(),
                format!("cannot represent the link as JSON: {e}"),
            )
        })?;
        if let serde_json::Value::Object(fields) = &mut merged {
            for (field, value) in patch {
                if field == "name" && value.as_str() != Some(name) {
                    return Err(invalid(
                        format!("{key}.name"),
                        "a link cannot be renamed; create the new name and delete this one",
                    ));
                }
                fields.insert(field, value);
            }
        }
        let updated: LinkConfig =
            serde_json::from_value(merged).map_err(|e| invalid(key.as_str(), e.to_string()))?;
        updated
            .validate(&key, &self.local_cluster)
            .map_err(RegistryError::Invalid)?;
        if updated == *current {
            return Ok(updated);
        }
        let mut next = inner.links.clone();
        next[index] = updated.clone();
        self.save(&next)?;
        inner.links = next;
        let metrics = inner.metrics.entry(name.to_owned()).or_default();
        match (updated.enable, metrics.state()) {
            (false, _) => metrics.set_state(LinkState::Disabled),
            (true, LinkState::Disabled) => metrics.set_state(LinkState::Connecting),
            (true, _) => {}
        }
        let metrics = Arc::clone(metrics);
        self.send(LinkCommand::Upsert {
            config: updated.clone(),
            metrics,
        });
        Ok(updated)
    }

    /// Stops and forgets the link named `name` (its counters go with it).
    pub fn delete(&self, name: &str) -> Result<(), RegistryError> {
        let mut inner = self.lock();
        let index = inner
            .links
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
        let mut next = inner.links.clone();
        next.remove(index);
        self.save(&next)?;
        inner.links = next;
        if let Some(metrics) = inner.metrics.remove(name) {
            // Connections that cached these counters see the link is gone.
            metrics.set_state(LinkState::Disabled);
        }
        self.send(LinkCommand::Remove {
            name: name.to_owned(),
        });
        Ok(())
    }

    /// Whether a CONNECT from the cluster `name` with these credentials may use
    /// the link protocol: an enabled link of that name must exist here with the
    /// same username and password (compared in constant time).
    pub fn accepts(&self, name: &str, username: Option<&str>, password: Option<&[u8]>) -> LinkAuth {
        let inner = self.lock();
        let Some(link) = inner.links.iter().find(|l| l.name == name && l.enable) else {
            return LinkAuth::UnknownCluster;
        };
        let user_ok = same_secret(
            link.username.as_deref().map(str::as_bytes),
            username.map(str::as_bytes),
        );
        let pass_ok = same_secret(link.password.as_deref().map(str::as_bytes), password);
        if user_ok & pass_ok {
            LinkAuth::Accepted
        } else {
            LinkAuth::BadCredentials
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-changed: every
        // change is computed aside and then assigned.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, command: LinkCommand) {
        if self.commands.send(command).is_err() {
            tracing::warn!(
                "the link shard is not running; the link change is kept but not applied"
            );
        }
    }

    /// Writes `links` to the links file, or warns once that there is none.
    fn save(&self, links: &[LinkConfig]) -> Result<(), RegistryError> {
        let Some(path) = &self.persist else {
            if !self.warned_volatile.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "link changes are kept in memory only: there is no config file to keep them next to"
                );
            }
            return Ok(());
        };
        links_file::save(path, links).map_err(|source| RegistryError::Persist {
            path: path.clone(),
            source,
        })
    }
}

/// How a link is named in errors from the admin API.
fn link_key(name: &str) -> String {
    format!("link {name:?}")
}

/// The state a link shows before the link shard reports on it.
fn initial_state(metrics: &LinkMetrics, enable: bool) {
    metrics.set_state(if enable {
        LinkState::Connecting
    } else {
        LinkState::Disabled
    });
}

/// Equal presence and equal bytes; the byte comparison takes the same time
/// wherever the first difference is.
fn same_secret(expected: Option<&[u8]>, given: Option<&[u8]>) -> bool {
    match (expected, given) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let mut diff = u8::from(a.len() != b.len());
            for i in 0..a.len().max(b.len()) {
                diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
            }
            std::hint::black_box(diff) == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam::channel::{unbounded, Receiver};

    pub(super) fn link(name: &str) -> LinkConfig {
        let mut link: LinkConfig = toml::from_str(
            "name = \"x\"\nserver = \"127.0.0.1:1883\"\ntopics = [\"global/#\"]\n\
             username = \"link\"\npassword = \"secret\"\n",
        )
        .expect("valid link TOML");
        link.name = name.to_owned();
        link
    }

    /// A fresh directory for one test's files.
    pub(super) fn scratch_dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("meridian-registry-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    pub(super) fn registry(
        links: Vec<LinkConfig>,
        persist: Option<PathBuf>,
    ) -> (Arc<LinkRegistry>, Receiver<LinkCommand>) {
        let (tx, rx) = unbounded();
        let registry = LinkRegistry::new("aliyun".into(), links, persist, tx).expect("registry");
        (registry, rx)
    }

    /// The commands sent so far, as (verb, name, enable).
    pub(super) fn sent(rx: &Receiver<LinkCommand>) -> Vec<(&'static str, String, bool)> {
        rx.try_iter()
            .map(|c| match c {
                LinkCommand::Upsert { config, .. } => ("upsert", config.name, config.enable),
                LinkCommand::Remove { name } => ("remove", name, false),
            })
            .collect()
    }

    #[test]
    fn is_the_links_file_named_after_the_config_file() {
        assert_eq!(
            LinkRegistry::persist_path_for(Path::new("/etc/meridian/prod.toml")),
            PathBuf::from("/etc/meridian/prod.links.json")
        );
    }

    #[test]
    fn does_start_all_upsert_every_configured_link_in_order() {
        let (reg, rx) = registry(vec![link("huawei"), link("aws")], None);
        assert!(sent(&rx).is_empty());
        reg.start_all();
        assert_eq!(
            sent(&rx),
            vec![
                ("upsert", "huawei".to_owned(), true),
                ("upsert", "aws".to_owned(), true)
            ]
        );
        assert_eq!(reg.metrics("aws").unwrap().state(), LinkState::Connecting);
    }

    #[test]
    fn is_an_invalid_config_link_set_refused() {
        let (tx, _rx) = unbounded();
        let err = LinkRegistry::new("aliyun".into(), vec![link("aliyun")], None, tx)
            .err()
            .expect("a link named like the local cluster is refused");
        assert_eq!(err.status(), 400);
        assert!(err.to_string().starts_with("link[0].name: "), "{err}");
    }

    #[test]
    fn does_create_refuse_duplicates_and_invalid_links_without_sending() {
        let (reg, rx) = registry(vec![link("huawei")], None);
        let err = reg.create(link("huawei")).unwrap_err();
        assert_eq!(
            (err.status(), err.to_string()),
            (409, "a link named \"huawei\" already exists".to_owned())
        );
        let mut bad = link("aws");
        bad.topics.push("$LINK/x".into());
        let err = reg.create(bad).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string().starts_with("link \"aws\".topics[1]: "),
            "{err}"
        );
        assert!(sent(&rx).is_empty());
        assert_eq!(reg.list().len(), 1);
    }

    #[test]
    fn does_an_update_keep_the_counters_and_disable_the_link() {
        let (reg, rx) = registry(vec![link("huawei")], None);
        let before = reg.metrics("huawei").unwrap();
        LinkMetrics::add(&before.messages_forwarded, 7);
        let updated = reg
            .update(
                "huawei",
                serde_json::json!({ "enable": false, "pool_size": 2 }),
            )
            .unwrap();
        assert!(!updated.enable);
        assert_eq!(updated.pool_size, 2);
        assert_eq!(updated.password.as_deref(), Some("secret"));
        let (config, after) = reg.get("huawei").unwrap();
        assert_eq!(config, updated);
        assert!(Arc::ptr_eq(&before, &after));
        assert_eq!(LinkMetrics::get(&after.messages_forwarded), 7);
        assert_eq!(after.state(), LinkState::Disabled);
        assert_eq!(sent(&rx), vec![("upsert", "huawei".to_owned(), false)]);
        reg.update("huawei", serde_json::json!({ "enable": true }))
            .unwrap();
        assert_eq!(after.state(), LinkState::Connecting);
    }

    #[test]
    fn does_an_update_that_changes_nothing_send_nothing() {
        let (reg, rx) = registry(vec![link("huawei")], None);
        reg.update(
            "huawei",
            serde_json::json!({ "enable": true, "name": "huawei" }),
        )
        .unwrap();
        assert!(sent(&rx).is_empty());
    }

    #[test]
    fn which_updates_are_refused_and_why() {
        let (reg, rx) = registry(vec![link("huawei")], None);
        let cases = [
            (
                serde_json::json!({ "name": "aws" }),
                "link \"huawei\".name: a link cannot be renamed",
            ),
            (
                serde_json::json!({ "pool_size": 0 }),
                "link \"huawei\".pool_size: 0 is out of range",
            ),
            (
                serde_json::json!({ "colour": "red" }),
                "link \"huawei\": unknown field `colour`",
            ),
            (
                serde_json::json!({ "keepalive": "soon" }),
                "link \"huawei\": invalid type",
            ),
            (
                serde_json::json!({ "username": null }),
                "link \"huawei\".password: a password needs a username",
            ),
            (
                serde_json::json!([1, 2]),
                "link \"huawei\": expected a JSON object",
            ),
        ];
        for (patch, message) in cases {
            let err = reg.update("huawei", patch.clone()).unwrap_err();
            assert_eq!(err.status(), 400, "{patch}");
            assert!(err.to_string().starts_with(message), "{patch}: {err}");
        }
        let err = reg.update("aws", serde_json::json!({})).unwrap_err();
        assert_eq!(
            (err.status(), err.to_string()),
            (404, "no link named \"aws\"".to_owned())
        );
        assert!(sent(&rx).is_empty());
        assert_eq!(reg.get("huawei").unwrap().0, link("huawei"));
    }

    #[test]
    fn does_delete_forget_the_link_and_send_remove() {
        let (reg, rx) = registry(vec![link("huawei"), link("aws")], None);
        reg.delete("huawei").unwrap();
        assert_eq!(sent(&rx), vec![("remove", "huawei".to_owned(), false)]);
        assert!(reg.get("huawei").is_none());
        assert!(reg.metrics("huawei").is_none());
        assert_eq!(reg.delete("huawei").unwrap_err().status(), 404);
        let names: Vec<String> = reg.list().into_iter().map(|(l, _)| l.name).collect();
        assert_eq!(names, vec!["aws".to_owned()]);
    }

    #[test]
    fn who_may_speak_the_link_protocol() {
        let mut open = link("aws");
        open.username = None;
        open.password = None;
        let mut off = link("gcp");
        off.enable = false;
        let (reg, _rx) = registry(vec![link("huawei"), open, off], None);
        let accepts = |n, u, p: Option<&str>| reg.accepts(n, u, p.map(str::as_bytes));
        assert_eq!(
            accepts("huawei", Some("link"), Some("secret")),
            LinkAuth::Accepted
        );
        assert_eq!(
            accepts("huawei", Some("link"), Some("secreT")),
            LinkAuth::BadCredentials
        );
        assert_eq!(
            accepts("huawei", Some("link"), Some("secret!")),
            LinkAuth::BadCredentials
        );
        assert_eq!(
            accepts("huawei", Some("link"), None),
            LinkAuth::BadCredentials
        );
        assert_eq!(
            accepts("huawei", Some("other"), Some("secret")),
            LinkAuth::BadCredentials
        );
        assert_eq!(accepts("huawei", None, None), LinkAuth::BadCredentials);
        assert_eq!(accepts("aws", None, None), LinkAuth::Accepted);
        assert_eq!(accepts("aws", Some("link"), None), LinkAuth::BadCredentials);
        assert_eq!(
            accepts("gcp", Some("link"), Some("secret")),
            LinkAuth::UnknownCluster
        );
        assert_eq!(
            accepts("azure", Some("link"), Some("secret")),
            LinkAuth::UnknownCluster
        );
    }
}

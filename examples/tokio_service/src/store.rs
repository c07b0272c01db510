//! The data of a node and its write path: versions, replication, pushes.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::body::Bytes;
use tokio::sync::broadcast;

use crate::Config;
use crate::push::Push;
use crate::replica::ReplicaClient;

#[derive(Debug, Default)]
struct State {
    /// Each key's value and the version of the write that set it.
    entries: HashMap<String, (u64, Bytes)>,
    /// The highest version this node has assigned or applied.
    version: u64,
}

/// Why a write was not acknowledged.
#[derive(Debug)]
pub(crate) struct NotReplicated(pub(crate) String);

#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) config: Config,
    state: Mutex<State>,
    pushes: broadcast::Sender<Push>,
    /// The backup, on a primary.
    replica: Option<ReplicaClient>,
}

impl Store {
    /// # Panics
    /// If the backup's URL is not a URL.
    pub(crate) fn new(config: Config) -> Store {
        let replica = config.backup.as_deref().map(|url| {
            ReplicaClient::new(url).unwrap_or_else(|e| panic!("backup URL {url:?}: {e}"))
        });
        Store {
            config,
            state: Mutex::default(),
            pushes: broadcast::channel(1024).0,
            replica,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        let state = self.state.lock().unwrap();
        state.entries.get(key).map(|(_, value)| value.clone())
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    /// Applies a write of `version` unless the key holds a newer one (a
    /// replication request that arrives late must not undo a later write),
    /// and pushes it to subscribers.
    pub(crate) fn apply(&self, key: &str, version: u64, value: Bytes) -> bool {
        let mut state = self.state.lock().unwrap();
        state.version = state.version.max(version);
        if state.entries.get(key).is_some_and(|(v, _)| *v >= version) {
            return false;
        }
        state
            .entries
            .insert(key.to_owned(), (version, value.clone()));
        // Nobody subscribed is fine.
        let _ = self.pushes.send(Push {
            version,
            key: key.to_owned(),
            value: String::from_utf8_lossy(&value).into_owned(),
        });
        true
    }

    fn next_version(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        state.version
    }

    /// A client's write: replicated to the backup (if any), then applied
    /// and pushed. `Ok` is the acknowledgement the client sees.
    pub(crate) async fn write(
        self: &std::sync::Arc<Self>,
        key: &str,
        value: Bytes,
    ) -> Result<(), NotReplicated> {
        let version = self.next_version();
        if let Some(replica) = &self.replica {
            let replicated = tokio::time::timeout(
                self.config.replication_timeout,
                replica.apply(key, version, value.clone()),
            )
            .await;
            let problem = match replicated {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("timed out".to_owned()),
            };
            if let Some(problem) = problem {
                if !self.config.ack_before_replicated {
                    return Err(NotReplicated(problem));
                }
                // THE PLANTED BUG: the backup may not have this write, yet
                // the client is about to be told it succeeded. The retry
                // closes the gap only if this node lives long enough.
                self.retry_in_background(replica.clone(), key.to_owned(), version, value.clone());
            }
        }
        self.apply(key, version, value);
        Ok(())
    }

    fn retry_in_background(
        self: &std::sync::Arc<Self>,
        replica: ReplicaClient,
        key: String,
        version: u64,
        value: Bytes,
    ) {
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(store.config.retry_interval).await;
                let attempt = tokio::time::timeout(
                    store.config.replication_timeout,
                    replica.apply(&key, version, value.clone()),
                );
                if let Ok(Ok(())) = attempt.await {
                    break;
                }
            }
        });
    }
}

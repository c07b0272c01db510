//! The service: a replicated key-value store on the simulated network.
//!
//! `n1` is the leader: it takes every write, keeps it on its disk,
//! replicates it to the followers `n2` and `n3` over UDP, and acknowledges
//! once one follower has it (a majority of three). Reads go to the leader,
//! which answers from its disk. Clients speak TCP, one request per line:
//! `PUT k v` → `OK` (or `ERR ...`), `GET k` → `VAL v` or `NONE`.
//!
//! Two bugs can be planted ([`Bugs`]), each a classic:
//! - `stale_reads`: reads are spread over all three nodes, and a follower
//!   answers from its copy, which lags the leader's (worse under a
//!   partition);
//! - `ack_before_disk`: the leader acknowledges a write kept in memory and
//!   flushes it to disk a little later, so a crash in between loses a write
//!   the client was told had succeeded.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use sim::net::{TcpListener, TcpStream, UdpSocket};

/// The port clients connect to (TCP).
pub(crate) const PORT: u16 = 7000;
/// The port followers take replicated writes on (UDP).
const REPLICATION: u16 = 7001;
/// How long the leader waits for a follower's acknowledgement.
const REPLICATION_TIMEOUT: Duration = Duration::from_millis(300);
/// How often the buggy leader flushes its memory to disk.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The planted bugs (both off: the correct store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bugs {
    /// Followers answer reads from their lagging copies.
    pub(crate) stale_reads: bool,
    /// The leader acknowledges writes before they reach its disk.
    pub(crate) ack_before_disk: bool,
}

/// Each key's value and the version of the write that set it.
type Data = BTreeMap<String, (u64, String)>;

/// What survives a node's crash. The test owns the disks, so a restarted
/// node finds its data again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Disk(Rc<RefCell<Data>>);

/// A node's state while it runs: its disk, and (for the buggy leader) the
/// writes not flushed yet.
struct Node {
    disk: Disk,
    memory: RefCell<Data>,
    bugs: Bugs,
}

impl Node {
    fn get(&self, key: &str) -> Option<String> {
        let memory = self.memory.borrow();
        let disk = self.disk.0.borrow();
        let newest = [memory.get(key), disk.get(key)]
            .into_iter()
            .flatten()
            .max_by_key(|(version, _)| *version);
        newest.map(|(_, value)| value.clone())
    }

    /// Applies a write unless the key holds a newer one.
    fn apply(&self, key: &str, version: u64, value: &str, to_memory: bool) {
        let mut data = if to_memory {
            self.memory.borrow_mut()
        } else {
            self.disk.0.borrow_mut()
        };
        if data.get(key).is_none_or(|(v, _)| *v < version) {
            data.insert(key.to_owned(), (version, value.to_owned()));
        }
    }

    fn next_version(&self) -> u64 {
        let memory = self.memory.borrow();
        let disk = self.disk.0.borrow();
        let newest = memory.values().chain(disk.values()).map(|(v, _)| *v).max();
        newest.unwrap_or(0) + 1
    }
}

/// Builds the three nodes, each with its disk, running the store.
pub(crate) fn start(bugs: Bugs) {
    for (name, leader) in [("n1", true), ("n2", false), ("n3", false)] {
        let disk = Disk::default();
        sim::node::Builder::new(name)
            .init(move || run(disk.clone(), bugs, leader))
            .build();
    }
}

/// A node's life: serve clients and (on a follower) replication.
async fn run(disk: Disk, bugs: Bugs, leader: bool) {
    let node = Rc::new(Node {
        disk,
        memory: RefCell::default(),
        bugs,
    });
    if leader && bugs.ack_before_disk {
        let flusher = node.clone();
        sim::spawn(async move {
            loop {
                sim::time::sleep(FLUSH_EVERY).await;
                let memory = std::mem::take(&mut *flusher.memory.borrow_mut());
                for (key, (version, value)) in memory {
                    flusher.apply(&key, version, &value, false);
                }
            }
        });
    }
    if !leader {
        let follower = node.clone();
        sim::spawn(async move { follow(follower).await });
    }
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await.unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let node = node.clone();
        sim::spawn(async move {
            let _ = serve(&node, stream, leader).await;
        });
    }
}

/// Answers one client connection, one request per line.
async fn serve(node: &Node, stream: TcpStream, leader: bool) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    use futures::StreamExt;
    while let Some(line) = lines.next().await {
        let line = line?;
        let mut words = line.splitn(3, ' ');
        let answer = match (words.next(), words.next(), words.next()) {
            (Some("GET"), Some(key), None) if leader || node.bugs.stale_reads => {
                match node.get(key) {
                    Some(value) => format!("VAL {value}"),
                    None => "NONE".to_owned(),
                }
            }
            (Some("PUT"), Some(key), Some(value)) if leader => put(node, key, value).await,
            _ => "ERR not the leader, or not a request".to_owned(),
        };
        writer.write_all(format!("{answer}\n").as_bytes()).await?;
    }
    Ok(())
}

/// The leader's write path: keep, replicate, acknowledge.
async fn put(node: &Node, key: &str, value: &str) -> String {
    let version = node.next_version();
    node.apply(key, version, value, node.bugs.ack_before_disk);
    let replicated = sim::time::timeout(REPLICATION_TIMEOUT, replicate(key, version, value));
    match replicated.await {
        Ok(Ok(())) => "OK".to_owned(),
        Ok(Err(e)) => format!("ERR {e}"),
        Err(_) => "ERR replication timed out".to_owned(),
    }
}

/// Sends the write to both followers until one acknowledges it.
async fn replicate(key: &str, version: u64, value: &str) -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let message = format!("SET {version} {key} {value}");
    let mut buf = [0u8; 64];
    loop {
        for follower in ["n2", "n3"] {
            // A follower that is down or unknown just does not answer.
            let _ = socket
                .send_to(message.as_bytes(), (follower, REPLICATION))
                .await;
        }
        let ack = sim::time::timeout(Duration::from_millis(50), socket.recv_from(&mut buf));
        if let Ok(Ok((n, _))) = ack.await {
            if buf[..n] == *format!("ACK {version}").as_bytes() {
                return Ok(());
            }
        }
    }
}

/// A follower applies replicated writes and acknowledges them.
async fn follow(node: Rc<Node>) {
    let socket = UdpSocket::bind(("0.0.0.0", REPLICATION)).await.unwrap();
    let mut buf = [0u8; 1024];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let mut words = text.splitn(4, ' ');
        if let (Some("SET"), Some(version), Some(key), Some(value)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            let Ok(version) = version.parse::<u64>() else {
                continue;
            };
            node.apply(key, version, value, false);
            let _ = socket
                .send_to(format!("ACK {version}").as_bytes(), from)
                .await;
        }
    }
}

/// A client's one request to `node`: the answer line, or an error (the
/// node is down, cut off or too slow).
pub(crate) async fn request(node: &str, line: &str) -> std::io::Result<String> {
    let attempt = async {
        let stream = TcpStream::connect((node, PORT)).await?;
        let (reader, mut writer) = stream.into_split();
        writer.write_all(format!("{line}\n").as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(reader).read_line(&mut answer).await?;
        if answer.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(answer.trim_end().to_owned())
    };
    sim::time::timeout(Duration::from_millis(500), attempt)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

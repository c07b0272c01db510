//! The WebSocket push channel: every committed write, as a text message,
//! and a heartbeat ping.

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{self, Bytes, Message};

use crate::store::Store;

/// A committed write, as pushed to subscribers: the text message
/// `put <version> <key> <value>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// The write's version (increasing on the node that assigned it).
    pub version: u64,
    /// The key written.
    pub key: String,
    /// The value written (lossily decoded as UTF-8).
    pub value: String,
}

impl fmt::Display for Push {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "put {} {} {}", self.version, self.key, self.value)
    }
}

impl FromStr for Push {
    type Err = String;

    fn from_str(s: &str) -> Result<Push, String> {
        let bad = || format!("not a push: {s:?}");
        let rest = s.strip_prefix("put ").ok_or_else(bad)?;
        let (version, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let (key, value) = rest.split_once(' ').ok_or_else(bad)?;
        Ok(Push {
            version: version.parse().map_err(|_| bad())?,
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

pub(crate) async fn serve(store: Arc<Store>, listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let store = store.clone();
        tokio::spawn(async move {
            // A failed session (a reset, a bad handshake) ends only itself.
            let _ = session(&store, stream).await;
        });
    }
}

/// One subscriber: heartbeats, pushes and what the subscriber sends, in one
/// `select!` loop.
async fn session(store: &Store, stream: TcpStream) -> Result<(), tungstenite::Error> {
    // Subscribe first: no write committed after the handshake is missed.
    let mut pushes = store.subscribe();
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut heartbeat = tokio::time::interval(store.config.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let silence = store.config.heartbeat * 5;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > silence {
                    // The subscriber stopped answering pings.
                    return ws.close(None).await;
                }
                ws.send(Message::Ping(Bytes::new())).await?;
            }
            push = pushes.recv() => match push {
                Ok(push) => ws.send(Message::text(push.to_string())).await?,
                // Too slow to keep up: it must resubscribe (and re-read).
                Err(RecvError::Lagged(_)) => return ws.close(None).await,
                Err(RecvError::Closed) => return ws.close(None).await,
            },
            incoming = ws.next() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => last_heard = Instant::now(),
                Some(Err(e)) => return Err(e),
            },
        }
    }
}

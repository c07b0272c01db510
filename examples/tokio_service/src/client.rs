//! The store's client: HTTP reads and writes, and a push subscriber.

use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::push::Push;

/// Any error of the client.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// hyper-util's pooled HTTP client, resolving names with tokio.
type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector<crate::resolve::LookupHost>,
    Full<Bytes>,
>;

/// A client of one node's HTTP API, over a pooled connection.
#[derive(Clone, Debug)]
pub struct Client {
    http: HttpClient,
    base: String,
}

impl Client {
    /// A client of the node at `base` (`http://primary:8080`,
    /// `http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>) -> Client {
        Client {
            http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(crate::resolve::connector()),
            base: base.into(),
        }
    }

    /// Writes `value` under `key`: `OK` once the write is committed (and,
    /// on a primary, replicated); `SERVICE_UNAVAILABLE` when it was not.
    ///
    /// # Errors
    /// When the node cannot be reached or the connection fails.
    pub async fn put(&self, key: &str, value: &str) -> Result<StatusCode, Error> {
        let request = Request::put(format!("{}/kv/{key}", self.base))
            .body(Full::new(Bytes::from(value.to_owned())))?;
        let response = self.http.request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        Ok(status)
    }

    /// Reads `key`: `None` when the node does not have it.
    ///
    /// # Errors
    /// When the node cannot be reached, or answers neither `200` nor `404`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, Error> {
        let uri = format!("{}/kv/{key}", self.base).parse()?;
        let response = self.http.get(uri).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        match status {
            StatusCode::OK => Ok(Some(String::from_utf8_lossy(&body).into_owned())),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(format!("GET {key}: {other}").into()),
        }
    }
}

/// What a subscriber receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A committed write.
    Push(Push),
    /// A heartbeat (answered automatically).
    Heartbeat,
}

/// A subscriber of a node's push channel.
#[derive(Debug)]
pub struct Subscriber {
    ws: WebSocketStream<TcpStream>,
}

impl Subscriber {
    /// Connects to the push channel at `addr` (`primary:9090`,
    /// `127.0.0.1:9090`).
    ///
    /// # Errors
    /// When the connection or the WebSocket handshake fails.
    pub async fn connect(addr: &str) -> Result<Subscriber, Error> {
        let stream = TcpStream::connect(addr).await?;
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream).await?;
        Ok(Subscriber { ws })
    }

    /// The next push or heartbeat; `None` when the channel closed. Reading
    /// also answers the heartbeats.
    ///
    /// # Errors
    /// When the connection fails or a message is malformed.
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        loop {
            return Some(match self.ws.next().await? {
                Ok(Message::Text(text)) => text.parse().map(Event::Push).map_err(Error::from),
                Ok(Message::Ping(_)) => Ok(Event::Heartbeat),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(e) => Err(e.into()),
            });
        }
    }
}

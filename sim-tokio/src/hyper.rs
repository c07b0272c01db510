//! Ready-made glue for hyper 1.x and hyper-util (feature `hyper`): an
//! executor, a timer, an I/O adapter, a client connector and a server loop,
//! written against this crate's `spawn`, `time` and `net`. Built normally
//! they run on real tokio; built with `--cfg sim`, on the simulation. So a
//! service written with them runs unchanged under both, where hyper-util's
//! `TokioExecutor`, `TokioTimer` and `HttpConnector` would call tokio's
//! runtime directly and fail under the simulation ("there is no reactor
//! running").
//!
//! ```
//! # #[cfg(sim)] {
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use sim_tokio::hyper::{client, serve};
//!
//! let rt = sim_tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = sim_tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//!     sim_tokio::spawn(serve(listener, hyper::service::service_fn(|req: Request<Incoming>| async move {
//!         let body = format!("hello {}", req.uri().path());
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(body))))
//!     })));
//!     let response = client::<Full<Bytes>>()
//!         .get("http://127.0.0.1:8080/sim".parse().unwrap())
//!         .await
//!         .unwrap();
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello /sim");
//! });
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use crate::io::{AsyncRead, AsyncWrite};
use crate::net::{TcpListener, TcpStream};

/// hyper's executor: spawns connection tasks with this crate's `spawn`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        crate::spawn(future);
    }
}

/// hyper's timer over this crate's `time` (virtual under the simulation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

/// A `crate::time::Sleep` as hyper's `Sleep`.
#[derive(Debug)]
struct HyperSleep(Pin<Box<crate::time::Sleep>>);

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Box::pin(crate::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = crate::time::Instant::from_std(deadline);
        Box::pin(HyperSleep(Box::pin(crate::time::sleep_until(deadline))))
    }

    /// The current time as hyper measures it: under the simulation, the
    /// virtual clock (so hyper's deadlines are in virtual time too).
    fn now(&self) -> std::time::Instant {
        crate::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours
                .0
                .as_mut()
                .reset(crate::time::Instant::from_std(new_deadline)),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A stream with tokio's I/O traits seen through hyper's (and back): what
/// hyper-util's `TokioIo` is for tokio's own streams, for any stream,
/// including the simulated network's; and a client connection for
/// hyper-util's pooled client.
#[derive(Debug)]
pub struct Io<T>(TokioIo<T>);

impl<T> Io<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Io<T> {
        Io(TokioIo::new(inner))
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        self.0.inner()
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: AsyncRead + Unpin> Read for Io<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> Write for Io<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Connection for Io<TcpStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// A connector for hyper-util's pooled client: `http://host:port` over
/// this crate's `TcpStream` (under the simulation, `host` may be a node's
/// name or address).
#[derive(Clone, Copy, Debug, Default)]
pub struct Connector;

impl tower_service::Service<http::Uri> for Connector {
    type Response = Io<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Io<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the URI `{uri}` has no host to connect to"),
                )
            })?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            let stream = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await?,
                Err(_) => TcpStream::connect((host, port)).await?,
            };
            Ok(Io::new(stream))
        })
    }
}

/// The pooled client [`client`] returns, to name in a struct.
pub type Client<B> = hyper_util::client::legacy::Client<Connector, B>;

/// hyper-util's pooled client on this crate's executor, timer and
/// connector: the client code under test writes no glue.
pub fn client<B>() -> Client<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    hyper_util::client::legacy::Client::builder(Executor)
        .timer(Timer)
        .pool_timer(Timer)
        .build(Connector)
}

/// Serves HTTP/1 and HTTP/2 on `listener`, one task per connection, with
/// `service` (a hyper service; for a tower service such as an axum
/// `Router`, use [`serve_tower`]). Runs until accepting fails.
///
/// Under `--cfg sim` responses carry no `Date` header (hyper would read it
/// from the real clock, and the run would not replay byte for byte).
///
/// # Errors
/// The error of the accept that failed (under the simulation: the node
/// was killed or the listener closed).
pub async fn serve<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        crate::spawn(async move {
            let mut builder = auto::Builder::new(Executor);
            builder.http1().timer(Timer);
            builder.http2().timer(Timer);
            // hyper stamps responses with a `Date` read from the real clock:
            // under the simulation that would make a run's bytes depend on
            // the wall-clock second it ran in.
            #[cfg(sim)]
            {
                builder.http1().auto_date_header(false);
                builder.http2().auto_date_header(false);
            }
            // A connection that fails (a reset, a malformed request) ends
            // only that connection, as in hyper-util's own servers.
            let _ = builder
                .serve_connection_with_upgrades(Io::new(stream), service)
                .await;
        });
    }
}

/// [`serve`] for a tower service (an axum `Router`, a tower stack).
///
/// # Errors
/// The error of the accept that failed.
pub async fn serve_tower<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: tower_service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve(listener, TowerToHyperService::new(service)).await
}

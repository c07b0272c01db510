//! Crates that call tokio's runtime themselves, as their users call them:
//! `axum::serve`, hyper-util's pooled client on `TokioExecutor`, tonic's
//! `transport::{Server, Endpoint}` and reqwest. `cargo test` runs them on
//! real tokio; `RUSTFLAGS="--cfg sim" cargo test` on the simulation, every
//! tokio call of these crates included, through the patched tokio (see
//! `Cargo.toml`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use tokio::net::TcpListener;

/// Under `--cfg sim`, the test body runs inside a simulation (and the
/// crates below with it); under real tokio, on tokio's runtime.
fn assert_on_the_expected_runtime() {
    #[cfg(sim)]
    assert!(sim::Handle::try_current().is_ok(), "not in a simulation");
    #[cfg(not(sim))]
    assert!(tokio::runtime::Handle::try_current().is_ok());
}

/// An axum app served by `axum::serve` on a fresh local port. Its handler
/// sleeps, so the server's timers are tokio's too.
async fn axum_app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            "hello"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn axum_serve_answers_hyper_utils_pooled_client() {
    assert_on_the_expected_runtime();
    let addr = axum_app().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build_http::<Empty<Bytes>>();
    for _ in 0..3 {
        let response = client
            .get(format!("http://{addr}/hello").parse().unwrap())
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello");
    }
}

/// `futures-timer` (jsonrpsee's and libp2p's timer) keeps time on a
/// helper thread; patched, its `Delay` is a sleep on the simulation's
/// virtual clock, so an hour passes at once.
#[tokio::test]
async fn futures_timer_delays_keep_the_runtime_s_time() {
    assert_on_the_expected_runtime();
    let start = tokio::time::Instant::now();
    let wait = if cfg!(sim) {
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(20)
    };
    let mut delay = futures_timer::Delay::new(wait * 10);
    delay.reset(wait);
    delay.await;
    assert!(start.elapsed() >= wait);
    #[cfg(sim)]
    assert_eq!(start.elapsed(), wait, "virtual time, to the nanosecond");
}

#[tokio::test]
async fn reqwest_gets_from_axum() {
    assert_on_the_expected_runtime();
    let addr = axum_app().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let body = client
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");
}

/// A gRPC echo service written by hand (as tonic-build would generate it).
#[derive(Clone, PartialEq, prost::Message)]
struct Say {
    #[prost(string, tag = "1")]
    text: String,
}

const ECHO: &str = "/echo.Echo/Say";

#[derive(Clone, Debug)]
struct EchoServer;

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = "echo.Echo";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<B> tower_service::Service<http::Request<B>> for EchoServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        struct Say1;
        impl tonic::server::UnaryService<Say> for Say1 {
            type Response = Say;
            type Future = BoxFuture<Result<tonic::Response<Say>, tonic::Status>>;
            fn call(&mut self, request: tonic::Request<Say>) -> Self::Future {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let text = format!("echo: {}", request.into_inner().text);
                    Ok(tonic::Response::new(Say { text }))
                })
            }
        }
        if request.uri().path() != ECHO {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<Say, Say>::default();
            Ok(tonic::server::Grpc::new(codec).unary(Say1, request).await)
        })
    }
}

#[tokio::test]
async fn tonic_transport_server_and_channel() {
    assert_on_the_expected_runtime();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServer)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    for i in 0..3 {
        grpc.ready().await.unwrap();
        let reply = grpc
            .unary(
                tonic::Request::new(Say {
                    text: format!("hi {i}"),
                }),
                http::uri::PathAndQuery::from_static(ECHO),
                tonic_prost::ProstCodec::<Say, Say>::default(),
            )
            .await
            .unwrap();
        assert_eq!(reply.into_inner().text, format!("echo: hi {i}"));
    }
}

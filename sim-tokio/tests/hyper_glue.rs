//! hyper's client and server over the tokio layer's glue, with no other
//! glue: run against real tokio and under `--cfg sim` by CI.
#![cfg(feature = "hyper")]

extern crate sim_tokio as tokio;

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::hyper::{client, serve};
use tokio::net::TcpListener;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/slow" {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let body = format!("{} {}", req.method(), req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::test(start_paused = true)]
async fn a_pooled_client_talks_to_a_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, hyper::service::service_fn(hello)));

    let client = client::<Full<Bytes>>();
    for path in ["/a", "/b", "/c"] {
        let uri = format!("http://{addr}{path}").parse().unwrap();
        let response = client.get(uri).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("GET {path}"));
    }

    // The timer is virtual under the simulation: a 30 s handler and a 1 s
    // timeout around the request, with no wall time spent.
    let uri = format!("http://{addr}/slow").parse().unwrap();
    let slow = tokio::time::timeout(Duration::from_secs(1), client.get(uri)).await;
    assert!(slow.is_err());
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn an_axum_router_serves_through_serve_tower() {
    use axum::Router;
    use axum::extract::Path;
    use axum::routing::get;

    let app = Router::new().route(
        "/greet/{name}",
        get(|Path(name): Path<String>| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            format!("hello {name}")
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(tokio::hyper::serve_tower(listener, app));

    let client = client::<Full<Bytes>>();
    let uri = format!("http://{addr}/greet/sim").parse().unwrap();
    let response = client.get(uri).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello sim");
    let missing = client
        .get(format!("http://{addr}/nope").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.abort();
}

/// Under the simulation only (it uses its fault controls): a partition in
/// the middle of a request ends hyper's wait for the response as Linux
/// does, when the request's retransmissions give up (924.6 s with
/// `tcp_retries2` = 15), instead of never.
#[cfg(sim)]
#[tokio::test]
async fn a_partition_mid_request_fails_the_request_when_tcp_gives_up() {
    let server = sim_runtime::node::Builder::new("server").build();
    server.spawn(async {
        let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
        serve(listener, hyper::service::service_fn(hello)).await
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let client = client::<Full<Bytes>>();
    let response = client.get("http://server:80/a".parse().unwrap()).await;
    assert_eq!(response.unwrap().status(), 200);

    sim_net::partition("client", "server");
    let start = tokio::time::Instant::now();
    let failed = client.get("http://server:80/b".parse().unwrap()).await;
    assert!(failed.is_err(), "no response across the partition");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(924_600) && waited < Duration::from_secs(930),
        "{waited:?}"
    );
}

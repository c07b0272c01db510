//! The HTTP API: `GET`/`PUT /kv/<key>`, served by hyper-util.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::store::Store;

/// Accepts connections until accepting fails, each served by its own task.
pub(crate) async fn serve(store: Arc<Store>, listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let store = store.clone();
        let service = hyper::service::service_fn(move |request| {
            let store = store.clone();
            async move { Ok::<_, Infallible>(handle(&store, request).await) }
        });
        tokio::spawn(async move {
            // A connection that fails only ends itself.
            let _ = crate::server()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn handle(store: &Arc<Store>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return reply(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Some(key) = path.strip_prefix("/kv/").filter(|k| !k.is_empty()) {
        match method {
            Method::GET => match store.get(key) {
                Some(value) => reply(StatusCode::OK, value),
                None => reply(StatusCode::NOT_FOUND, "no such key"),
            },
            Method::PUT => match store.write(key, body).await {
                Ok(()) => reply(StatusCode::OK, "ok"),
                Err(e) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not replicated: {}", e.0),
                ),
            },
            _ => reply(StatusCode::METHOD_NOT_ALLOWED, "GET or PUT"),
        }
    } else {
        reply(StatusCode::NOT_FOUND, "no such route")
    }
}

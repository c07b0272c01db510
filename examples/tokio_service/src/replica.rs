//! Replication over gRPC (tonic): the primary calls `kv.Replica/Apply` on
//! its backup for each write. The service is written by hand, as
//! `tonic-build` would generate it for
//!
//! ```proto
//! service Replica { rpc Apply(ApplyRequest) returns (Applied); }
//! message ApplyRequest { string key = 1; uint64 version = 2; bytes value = 3; }
//! message Applied { bool changed = 1; }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use crate::client::Error;
use crate::store::Store;

const APPLY: &str = "/kv.Replica/Apply";

/// One replicated write.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ApplyRequest {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(uint64, tag = "2")]
    version: u64,
    #[prost(bytes = "bytes", tag = "3")]
    value: Bytes,
}

/// The backup's answer: whether the write changed its data.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Applied {
    #[prost(bool, tag = "1")]
    changed: bool,
}

/// The primary's side: a channel to the backup, connected lazily (and
/// again after a failure) by tonic.
#[derive(Clone, Debug)]
pub(crate) struct ReplicaClient {
    channel: Channel,
}

impl ReplicaClient {
    /// A client of the backup at `url` (`http://backup:50051`).
    pub(crate) fn new(url: &str) -> Result<ReplicaClient, Error> {
        let endpoint = Endpoint::from_shared(url.to_owned())?;
        Ok(ReplicaClient {
            channel: endpoint.connect_with_connector_lazy(crate::resolve::connector()),
        })
    }

    /// Sends one write; `Ok` once the backup has applied it.
    pub(crate) async fn apply(&self, key: &str, version: u64, value: Bytes) -> Result<(), Error> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await?;
        let request = ApplyRequest {
            key: key.to_owned(),
            version,
            value,
        };
        let path = http::uri::PathAndQuery::from_static(APPLY);
        let codec = ProstCodec::<ApplyRequest, Applied>::default();
        grpc.unary(tonic::Request::new(request), path, codec)
            .await?;
        Ok(())
    }
}

/// The backup's side: serves `kv.Replica` on `listener` until accepting
/// fails, with hyper-util's HTTP/2 server (tonic's `transport::Server` would
/// do, but stamps responses with the real date: see [`crate::server`]).
pub(crate) async fn serve(store: Arc<Store>, listener: TcpListener) -> io::Result<()> {
    let service = TowerToHyperService::new(ReplicaServer { store });
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            // A connection that fails only ends itself.
            let _ = crate::server()
                .http2_only()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Clone, Debug)]
struct ReplicaServer {
    store: Arc<Store>,
}

impl tonic::server::NamedService for ReplicaServer {
    const NAME: &'static str = "kv.Replica";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<B> tower_service::Service<http::Request<B>> for ReplicaServer
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
        if request.uri().path() != APPLY {
            return Box::pin(async {
                Ok(tonic::Status::unimplemented("no such method").into_http())
            });
        }
        let apply = Apply(self.store.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Applied, ApplyRequest>::default());
            Ok(grpc.unary(apply, request).await)
        })
    }
}

struct Apply(Arc<Store>);

impl tonic::server::UnaryService<ApplyRequest> for Apply {
    type Response = Applied;
    type Future = BoxFuture<Result<tonic::Response<Applied>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<ApplyRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            let ApplyRequest {
                key,
                version,
                value,
            } = request.into_inner();
            let changed = store.apply(&key, version, value);
            Ok(tonic::Response::new(Applied { changed }))
        })
    }
}

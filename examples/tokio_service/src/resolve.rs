//! Names to addresses through `tokio::net::lookup_host`, for the HTTP and
//! gRPC connectors. hyper-util's default resolver asks the OS in a blocking
//! thread; this one asks tokio, which under a simulation knows its nodes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;

/// A resolver for hyper-util's `HttpConnector`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LookupHost;

impl tower_service::Service<Name> for LookupHost {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        Box::pin(async move {
            // The connector puts the URI's port on each address.
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(addrs.collect::<Vec<_>>().into_iter())
        })
    }
}

/// An HTTP connector that resolves with [`LookupHost`].
pub(crate) fn connector() -> HttpConnector<LookupHost> {
    let mut connector = HttpConnector::new_with_resolver(LookupHost);
    connector.set_nodelay(true);
    connector
}

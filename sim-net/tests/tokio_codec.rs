//! With the `tokio` feature, `TcpStream` implements tokio's I/O traits, so
//! tokio-util codecs frame it. Run with `cargo test -p sim-net --features tokio`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sim_net::{LinkConfig, NetConfig, TcpListener, TcpStream};
use tokio_util::codec::{Framed, LinesCodec};

#[sim::test(seeds = 50)]
async fn a_lines_codec_frames_a_simulated_stream() {
    // A bad link: framing must survive loss, reordering and duplication.
    let bad = LinkConfig::new()
        .latency(Duration::from_millis(1)..=Duration::from_millis(20))
        .loss(0.2)
        .duplicate(0.1);
    sim_net::configure(NetConfig::new().link(bad));
    sim::node::Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:7").await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let mut lines = Framed::new(stream, LinesCodec::new());
            while let Some(line) = lines.next().await {
                lines.send(line.unwrap().to_uppercase()).await.unwrap();
            }
        })
        .build();
    sim::time::sleep(Duration::from_millis(1)).await;
    let stream = TcpStream::connect("server:7").await.unwrap();
    let mut lines = Framed::new(stream, LinesCodec::new());
    for word in ["alpha", "beta", "gamma"] {
        lines.send(word).await.unwrap();
    }
    for word in ["ALPHA", "BETA", "GAMMA"] {
        assert_eq!(lines.next().await.unwrap().unwrap(), word);
    }
}

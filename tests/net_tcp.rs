//! TCP: handshake, ordered exactly-once bytes, close, reset, partitions,
//! backpressure.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net;
use sim::net::{LinkConfig, NetConfig, TcpListener, TcpStream};
use sim::node::{Builder, NodeHandle};
use sim::time::{Instant, sleep, timeout};

fn fixed(ms: u64) -> LinkConfig {
    LinkConfig::new().fixed_latency(Duration::from_millis(ms))
}

/// A node "server" whose init echoes every connection on port 8080.
fn echo_server() -> NodeHandle {
    Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:8080").await.unwrap();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                sim::spawn(async move {
                    let mut buf = [0; 1024];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        })
        .build()
}

/// Binds a listener on a new node "server" and returns both.
async fn listening_server() -> (NodeHandle, TcpListener) {
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async { TcpListener::bind("0.0.0.0:8080").await.unwrap() })
        .await
        .unwrap();
    (server, listener)
}

async fn bound() {
    sleep(Duration::from_millis(1)).await;
}

#[sim::test]
async fn connect_accept_and_echo() {
    let server = echo_server();
    bound().await;
    let mut stream = TcpStream::connect("server:8080").await.unwrap();
    assert_eq!(
        stream.peer_addr().unwrap(),
        SocketAddr::new(server.ip(), 8080)
    );
    let local = stream.local_addr().unwrap();
    assert_eq!(local.ip(), sim::node::current().ip());
    assert!(local.port() >= 49152);
    stream.write_all(b"hello, server").await.unwrap();
    let mut buf = [0; 13];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello, server");
}

#[sim::test]
async fn accept_reports_the_peer_address() {
    let (_server, listener) = listening_server().await;
    let client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(accepted.peer_addr().unwrap(), peer);
    assert_eq!(accepted.local_addr().unwrap(), client.peer_addr().unwrap());
}

#[sim::test]
async fn connect_to_a_port_without_listener_is_refused_after_a_round_trip() {
    Builder::new("server").build();
    net::set_link("client", "server", fixed(3));
    net::set_link("server", "client", fixed(4));
    let start = Instant::now();
    let err = TcpStream::connect("server:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        err.to_string(),
        "connection refused: node `server` is not listening on port 8080"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(7));
}

#[sim::test]
async fn connecting_to_a_down_node_waits_for_it() {
    let server = echo_server();
    server.kill();
    let attempt = timeout(Duration::from_secs(10), TcpStream::connect("server:8080")).await;
    assert!(attempt.is_err(), "no answer from a node that is down");
    // A connect in progress gets through once the node is back.
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_millis(2500)).await;
    server.restart();
    let mut stream = connecting.await.unwrap().unwrap();
    stream.write_all(b"back").await.unwrap();
    let mut buf = [0; 4];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"back");
}

#[sim::test]
async fn connecting_across_a_partition_waits_until_it_heals() {
    echo_server();
    bound().await;
    net::partition("client", "server");
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_secs(5)).await;
    assert!(!connecting.is_finished());
    net::heal("client", "server");
    assert!(connecting.await.unwrap().is_ok());
}

#[sim::test(seeds = 20)]
async fn bytes_arrive_in_order_exactly_once_over_a_bad_link() {
    let bad = LinkConfig::new()
        .latency(Duration::from_millis(1)..=Duration::from_millis(50))
        .loss(0.3)
        .duplicate(0.3);
    net::configure(NetConfig::new().link(bad));
    let (_server, listener) = listening_server().await;
    let reader = sim::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        all
    });
    let mut stream = TcpStream::connect("server:8080").await.unwrap();
    let mut expected = Vec::new();
    for i in 0..200u32 {
        let chunk: Vec<u8> = (0..(i % 37) + 1).map(|j| (i * 7 + j) as u8).collect();
        stream.write_all(&chunk).await.unwrap();
        expected.extend_from_slice(&chunk);
    }
    stream.close().await.unwrap();
    assert_eq!(reader.await.unwrap(), expected);
    let stats = net::stats("client", "server");
    assert!(stats.dropped > 0, "{stats:?}");
}

#[sim::test(seeds = 20)]
async fn lost_segments_arrive_one_retransmission_timeout_later() {
    net::configure(NetConfig::new().tcp_rto(Duration::from_millis(200)));
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    net::set_link("client", "server", fixed(5).loss(0.6));
    let start = Instant::now();
    client.write_all(b"x").await.unwrap();
    let mut buf = [0; 1];
    accepted.read_exact(&mut buf).await.unwrap();
    // Each loss costs a retransmission timeout, twice the one before.
    let waited = start.elapsed().as_millis() as u64 - 5;
    let schedule: Vec<u64> = (0..=15)
        .map(|n| (0..n).map(|k| (200u64 << k).min(120_000)).sum())
        .collect();
    assert!(
        schedule.contains(&waited),
        "{waited} ms is not on {schedule:?}"
    );
}

#[sim::test]
async fn a_partition_stalls_the_stream_which_resumes_in_order_after_heal() {
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    client.write_all(b"a").await.unwrap();
    let mut buf = [0; 1];
    accepted.read_exact(&mut buf).await.unwrap();
    net::partition("client", "server");
    client.write_all(b"b").await.unwrap();
    client.write_all(b"c").await.unwrap();
    let stalled = timeout(Duration::from_secs(30), accepted.read(&mut buf)).await;
    assert!(stalled.is_err(), "nothing crosses a partition");
    net::heal("client", "server");
    let mut rest = [0; 2];
    accepted.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"bc");
}

#[sim::test]
async fn a_writer_to_a_peer_that_does_not_read_eventually_pends() {
    net::configure(NetConfig::new().tcp_buffer(1024));
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    let data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    let writer = sim::spawn(async move {
        client.write_all(&data).await.unwrap();
        client.close().await.unwrap();
        client
    });
    sleep(Duration::from_secs(1)).await;
    assert!(!writer.is_finished(), "4 KiB does not fit a 1 KiB window");
    let mut got = Vec::new();
    accepted.read_to_end(&mut got).await.unwrap();
    assert_eq!(got.len(), 4096);
    assert!(got.iter().enumerate().all(|(i, b)| *b == i as u8));
    writer.await.unwrap();
}

#[sim::test]
async fn dropping_a_listener_resets_the_connections_it_had_not_accepted() {
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    drop(listener);
    let err = client.read(&mut [0; 4]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let err = TcpStream::connect("server:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[sim::test]
async fn a_restarted_node_listens_again_on_its_port() {
    let server = echo_server();
    bound().await;
    let mut first = TcpStream::connect("server:8080").await.unwrap();
    server.restart();
    let err = first.read(&mut [0; 4]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    bound().await;
    let mut second = TcpStream::connect("server:8080").await.unwrap();
    second.write_all(b"again").await.unwrap();
    let mut buf = [0; 5];
    second.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"again");
}

#[sim::test]
async fn a_full_backlog_makes_clients_retry() {
    net::configure(NetConfig::new().tcp_backlog(1));
    let (_server, listener) = listening_server().await;
    let _first = TcpStream::connect("server:8080").await.unwrap();
    let second = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "the backlog is full");
    let _accepted = listener.accept().await.unwrap();
    assert!(second.await.unwrap().is_ok(), "retried after 1 s");
    assert!(sim::Handle::current().elapsed() >= Duration::from_secs(1));
}

#[test]
fn several_tasks_waiting_to_read_one_stream_are_all_woken() {
    // A wake must never be dropped: two tasks in `readable()` on one stream
    // and one in `peek` each learn when bytes arrive (20 ms away: the
    // alarm path, armed for all of them).
    let mut rt = sim::Runtime::new(5);
    rt.block_on(async {
        let server = Builder::new("server").build();
        net::set_link("client", "server", fixed(20));
        let listener = server
            .spawn(async { TcpListener::bind("0.0.0.0:7000").await.unwrap() })
            .await
            .unwrap();
        let accept = server.spawn(async move { listener.accept().await.unwrap().0 });
        let client = TcpStream::connect("server:7000").await.unwrap();
        let accepted = std::sync::Arc::new(accept.await.unwrap());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let stream = accepted.clone();
                server.spawn(async move {
                    stream.readable().await.unwrap();
                    Instant::now()
                })
            })
            .collect();
        let peeker = {
            let stream = accepted.clone();
            server.spawn(async move {
                let mut buf = [0; 4];
                stream.peek(&mut buf).await.unwrap()
            })
        };
        sleep(Duration::from_millis(5)).await;
        let sent = Instant::now();
        client.try_write(b"ping").unwrap();
        for waiter in waiters {
            let woke = timeout(Duration::from_secs(1), waiter)
                .await
                .expect("a waiting reader was never woken")
                .unwrap();
            assert_eq!(woke - sent, Duration::from_millis(20));
        }
        assert_eq!(peeker.await.unwrap(), 4);
    });
}

// ----- addresses: a port belongs to (address, port), as on Linux -----

#[sim::test]
async fn a_listener_bound_to_loopback_refuses_other_nodes_and_its_node_address() {
    let server = Builder::new("server").build();
    let server_ip = server.ip();
    let on_server = server
        .spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:8080").await.unwrap();
            // Its own node's address is another address: refused.
            let err = TcpStream::connect((server_ip, 8080)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
            // Loopback is answered, and both ends say 127.0.0.1.
            let client = TcpStream::connect("127.0.0.1:8080").await.unwrap();
            let (accepted, peer) = listener.accept().await.unwrap();
            let lo = |port| SocketAddr::from(([127, 0, 0, 1], port));
            let client_port = client.local_addr().unwrap().port();
            assert_eq!(client.local_addr().unwrap(), lo(client_port));
            assert_eq!(client.peer_addr().unwrap(), lo(8080));
            assert_eq!(peer, lo(client_port));
            assert_eq!(accepted.local_addr().unwrap(), lo(8080));
            assert_eq!(accepted.peer_addr().unwrap(), lo(client_port));
            listener
        })
        .await
        .unwrap();
    // Another node is refused, and told why.
    let err = TcpStream::connect("server:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(
        err.to_string()
            .contains("its listener is bound to 127.0.0.1:8080"),
        "{err}"
    );
    drop(on_server);
}

#[sim::test]
async fn a_listener_bound_to_the_node_address_does_not_answer_on_loopback() {
    let own_ip = sim::node::current().ip();
    let listener = TcpListener::bind((own_ip, 8080)).await.unwrap();
    let err = TcpStream::connect("127.0.0.1:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // Its address is answered, by this node and by others.
    let client = TcpStream::connect((own_ip, 8080)).await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(peer.ip(), own_ip, "not loopback: the node's own address");
    let other = Builder::new("other").build();
    let connected = other
        .spawn(async { TcpStream::connect("client:8080").await.map(drop) })
        .await
        .unwrap();
    assert!(connected.is_ok());
}

#[sim::test]
async fn loopback_and_node_address_listeners_share_a_port_and_a_wildcard_conflicts_with_both() {
    let own_ip = sim::node::current().ip();
    let local = TcpListener::bind("127.0.0.1:80").await.unwrap();
    let public = TcpListener::bind((own_ip, 80)).await.unwrap();
    for wildcard in ["0.0.0.0:80", "[::]:80"] {
        let err = TcpListener::bind(wildcard).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{wildcard}");
    }
    let err = TcpStream::connect("127.0.0.1:80");
    let _via_lo = err.await.unwrap();
    let _via_ip = TcpStream::connect((own_ip, 80)).await.unwrap();
    let (_, from_lo) = local.accept().await.unwrap();
    let (_, from_ip) = public.accept().await.unwrap();
    assert!(from_lo.ip().is_loopback());
    assert_eq!(from_ip.ip(), own_ip);
    drop((local, public));
    // A wildcard takes the port on every address.
    let _any = TcpListener::bind("0.0.0.0:80").await.unwrap();
    let err = TcpListener::bind("127.0.0.1:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains("bound to 0.0.0.0:80"), "{err}");
}

#[sim::test]
async fn a_socket_bound_to_loopback_cannot_connect_to_another_node_einval() {
    echo_server();
    bound().await;
    let socket = net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server: SocketAddr = (net::lookup("server").unwrap(), 8080).into();
    let err = socket.connect(server).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // The port it had reserved is free again.
    let port = 49152;
    TcpListener::bind(("127.0.0.1", port)).await.unwrap();
}

// ----- hold: connection requests and their answers wait for the release -----

#[sim::test]
async fn a_connect_across_a_held_link_waits_for_the_release_then_completes() {
    let (_server, listener) = listening_server().await;
    net::set_link("client", "server", fixed(3));
    net::set_link("server", "client", fixed(4));
    // The request is held.
    net::hold("client", "server");
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_secs(10)).await;
    assert!(!connecting.is_finished(), "the request is held");
    let released = Instant::now();
    net::release("client", "server");
    let stream = connecting.await.unwrap().unwrap();
    // The request arrives at the release; the answer takes its 4 ms.
    assert_eq!(released.elapsed(), Duration::from_millis(4));
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, stream.local_addr().unwrap());
    // The answer is held: the connect completes at the release.
    net::hold("server", "client");
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_secs(10)).await;
    assert!(!connecting.is_finished(), "the answer is held");
    let released = Instant::now();
    net::release("server", "client");
    connecting.await.unwrap().unwrap();
    assert_eq!(released.elapsed(), Duration::ZERO);
    // A refusal is an answer too.
    net::hold("server", "client");
    let refused = sim::spawn(TcpStream::connect("server:9"));
    sleep(Duration::from_secs(10)).await;
    assert!(!refused.is_finished(), "the refusal is held");
    net::release("server", "client");
    let err = refused.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[sim::test]
async fn a_hold_that_starts_while_the_request_is_in_flight_holds_it() {
    let (_server, _listener) = listening_server().await;
    net::set_link("client", "server", fixed(50));
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    sleep(Duration::from_millis(10)).await;
    net::hold("client", "server");
    sleep(Duration::from_secs(5)).await;
    assert!(!connecting.is_finished());
    net::release("client", "server");
    assert!(connecting.await.unwrap().is_ok());
}

#[sim::test]
async fn a_connect_abandoned_while_its_request_is_held_is_never_accepted() {
    let (_server, listener) = listening_server().await;
    net::hold("client", "server");
    let attempt = timeout(Duration::from_secs(2), TcpStream::connect("server:8080")).await;
    assert!(attempt.is_err(), "no answer while held");
    net::release("client", "server");
    let accepted = timeout(Duration::from_secs(10), listener.accept()).await;
    assert!(accepted.is_err(), "the abandoned connect was accepted");
}

#[sim::test]
async fn a_connect_abandoned_while_its_answer_is_held_is_never_accepted() {
    // Linux queues a connection for `accept` only once the client completes
    // the handshake; a client that gave up answers the late SYN-ACK with a
    // reset, and the half-open connection is dropped.
    let (_server, listener) = listening_server().await;
    net::hold("server", "client");
    let attempt = timeout(Duration::from_secs(2), TcpStream::connect("server:8080")).await;
    assert!(attempt.is_err(), "no answer while held");
    net::release("server", "client");
    let accepted = timeout(Duration::from_secs(10), listener.accept()).await;
    assert!(accepted.is_err(), "the abandoned connect was accepted");
    // The listener works on.
    let client = TcpStream::connect("server:8080").await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

// ----- closing and resets, as Linux does them -----

#[sim::test]
async fn a_write_loop_to_a_peer_that_closed_is_paced_and_ends_in_broken_pipe() {
    // Writes go on until the reset answering the first of them is back (a
    // round trip), paced by the closed peer's window (64 KiB), then fail
    // with EPIPE: the loop ends, and virtual time moves.
    let (_server, listener) = listening_server().await;
    net::set_link("client", "server", fixed(5));
    net::set_link("server", "client", fixed(5));
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    drop(accepted);
    // Writing at once: the end of stream is still on its way.
    let start = Instant::now();
    let chunk = [7u8; 1000];
    let mut written = 0;
    let err = loop {
        match client.write(&chunk).await {
            Ok(n) => written += n,
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(start.elapsed(), Duration::from_millis(10), "one round trip");
    assert_eq!(written, 64 * 1024, "the closed peer's window, no more");
    let err = client.write(&chunk).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0, "end of stream");
}

#[sim::test]
async fn dropping_a_stream_with_unread_data_resets_the_connection_and_the_peer_reads_connection_reset()
 {
    // Linux (RFC 2525): closing with unread bytes sends a reset instead of
    // the end of stream. The peer reads what arrived before it, then
    // ECONNRESET once; then reads return EOF and writes EPIPE.
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    client.write_all(b"never read").await.unwrap();
    accepted.write_all(b"hello").await.unwrap();
    accepted.readable().await.unwrap(); // the bytes have arrived
    drop(accepted);
    let mut buf = [0; 16];
    let n = client.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"hello", "bytes sent before the reset are read");
    let err = client.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(err.to_string().contains("bytes it had not read"), "{err}");
    assert_eq!(client.read(&mut buf).await.unwrap(), 0, "reported once");
    let err = client.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

#[sim::test]
async fn after_a_reset_the_first_write_gets_connection_reset_and_the_next_broken_pipe() {
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    client.write_all(b"unread").await.unwrap();
    accepted.readable().await.unwrap();
    drop(accepted);
    sleep(Duration::from_millis(20)).await; // the reset arrives
    let err = client.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let err = client.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(client.read(&mut [0; 4]).await.unwrap(), 0);
}

#[sim::test]
async fn a_writer_blocked_on_a_full_window_gets_connection_reset_when_the_peer_drops_unread_data() {
    net::configure(NetConfig::new().tcp_buffer(1024));
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    let writer = sim::spawn(async move { client.write_all(&[1; 4096]).await });
    sleep(Duration::from_secs(1)).await;
    assert!(!writer.is_finished(), "the window is full");
    drop(accepted);
    let result = timeout(Duration::from_secs(1), writer)
        .await
        .expect("the blocked writer learns of the reset")
        .unwrap();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionReset);
}

#[sim::test]
async fn a_write_to_a_closed_peer_across_a_partition_is_answered_after_the_heal() {
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    drop(accepted);
    assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
    net::partition("client", "server");
    client.write_all(b"stalled").await.unwrap();
    sleep(Duration::from_secs(10)).await;
    client.write_all(b"still no answer").await.unwrap();
    net::heal("client", "server");
    sleep(Duration::from_secs(1)).await;
    let err = client.write_all(b"now").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

#[sim::test]
async fn bytes_on_their_way_to_a_stream_that_closes_are_answered_with_a_reset() {
    let (_server, listener) = listening_server().await;
    net::set_link("client", "server", fixed(50));
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    client.write_all(b"in flight").await.unwrap();
    drop(accepted); // before the bytes arrive: the end of stream, then a reset
    assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
    sleep(Duration::from_millis(100)).await;
    let err = client.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

#[sim::test(seeds = 30, check_determinism)]
async fn a_write_loop_to_a_closed_peer_ends_over_a_bad_link_the_same_way_each_replay() {
    let bad = LinkConfig::new()
        .latency(Duration::from_millis(1)..=Duration::from_millis(50))
        .loss(0.3);
    net::configure(NetConfig::new().link(bad).tcp_buffer(4096));
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    let unread = sim::rand::random::<bool>();
    if unread {
        client.write_all(b"left unread").await.unwrap();
        accepted.readable().await.unwrap();
    }
    drop(accepted);
    let mut written = 0;
    let err = loop {
        match client.write(&[0; 100]).await {
            Ok(n) => written += n,
            Err(err) => break err,
        }
    };
    assert!(written <= 4096, "{written}");
    let expected = if unread {
        ErrorKind::ConnectionReset
    } else {
        ErrorKind::BrokenPipe
    };
    assert_eq!(err.kind(), expected, "{err}");
}

#[sim::test]
async fn a_write_loop_to_a_peer_that_shut_down_reading_then_closed_ends() {
    let (_server, listener) = listening_server().await;
    let mut client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    accepted.shutdown_std(Shutdown::Read).unwrap();
    drop(accepted);
    let err = loop {
        if let Err(err) = client.write(&[0; 1000]).await {
            break err;
        }
    };
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

// ----- giving up: connection requests, retransmissions, keepalive (Linux's defaults) -----

/// Client and server connected over a 5 ms link, the server's end accepted.
async fn connected() -> (NodeHandle, TcpStream, TcpStream) {
    net::configure(NetConfig::new().link(fixed(5)));
    let (server, listener) = listening_server().await;
    let client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    (server, client, accepted)
}

#[sim::test]
async fn connect_to_a_node_cut_off_times_out_after_127_s_as_linux_tcp_syn_retries_6() {
    echo_server();
    bound().await;
    net::isolate("server");
    let start = Instant::now();
    let err = TcpStream::connect("server:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // SYNs at 0, 1, 3, 7, 15, 31, 63 s; the last waits 64 s for its answer.
    assert_eq!(start.elapsed(), Duration::from_secs(127));
    let message = err.to_string();
    assert!(message.contains("7 connection requests"), "{message}");
    assert!(message.contains("syn_retries"), "{message}");
}

#[sim::test]
async fn connect_to_a_node_that_is_down_times_out_after_syn_retries() {
    let server = echo_server();
    server.kill();
    net::configure(
        NetConfig::new()
            .syn_retries(1)
            .syn_rto(Duration::from_millis(500)),
    );
    let start = Instant::now();
    let err = TcpStream::connect("server:8080").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_millis(500 + 1000));
}

#[sim::test]
async fn a_partition_mid_request_times_the_client_out_after_924_6_s_as_linux_tcp_retries2_15() {
    let (_server, mut client, mut accepted) = connected().await;
    net::partition("client", "server");
    let start = Instant::now();
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    // Waiting for the response: the request is retransmitted with a
    // timeout of 200 ms doubling up to 120 s; after 15 retransmissions the
    // client gives up: 0.2 * (2^10 - 1) + 6 * 120 = 924.6 s.
    let err = client.read(&mut [0; 64]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_millis(924_600));
    assert!(err.to_string().contains("tcp_retries"), "{err}");
    // Reported once (Linux's sk_err), then end of stream and EPIPE.
    assert_eq!(client.read(&mut [0; 64]).await.unwrap(), 0);
    let err = client.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    // The request never arrives, even after the heal; the server's reply
    // reaches a socket that is gone and draws a reset.
    net::heal("client", "server");
    let nothing = timeout(Duration::from_secs(5), accepted.read(&mut [0; 64])).await;
    assert!(nothing.is_err(), "the request was given up");
    accepted.write_all(b"HTTP/1.1 200 OK").await.unwrap();
    sleep(Duration::from_millis(20)).await;
    let err = accepted.write_all(b"body").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[sim::test(seeds = 5)]
async fn a_timed_out_stream_reports_timed_out_even_if_the_peers_end_of_stream_reaches_it_later() {
    let (_server, mut client, accepted) = connected().await;
    net::configure(NetConfig::new().link(fixed(5)).tcp_retries(1));
    net::partition_oneway("client", "server");
    client.write_all(b"lost").await.unwrap();
    sleep(Duration::from_secs(1)).await; // 200 + 400 ms: the client gave up
    drop(accepted); // its end of stream reaches the client's dead socket
    sleep(Duration::from_millis(20)).await;
    let err = client.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
}

#[sim::test]
async fn a_partition_healed_before_the_retransmissions_give_up_delivers_the_bytes() {
    let (_server, mut client, mut accepted) = connected().await;
    net::partition("client", "server");
    client.write_all(b"late").await.unwrap();
    sleep(Duration::from_secs(900)).await;
    net::heal("client", "server");
    let mut buf = [0; 4];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"late");
    accepted.write_all(b"ok").await.unwrap();
    let mut reply = [0; 2];
    client.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"ok");
}

#[sim::test]
async fn a_link_that_loses_every_segment_times_the_writer_out_after_tcp_retries() {
    let (_server, mut client, _accepted) = connected().await;
    net::configure(NetConfig::new().link(fixed(5)).tcp_retries(3));
    net::set_link("client", "server", fixed(5).loss(1.0));
    let start = Instant::now();
    client.write_all(b"x").await.unwrap();
    let err = client.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // 200 + 400 + 800 + 1600 ms: the original and 3 retransmissions.
    assert_eq!(start.elapsed(), Duration::from_millis(3000));
    let stats = net::stats("client", "server");
    assert!(stats.dropped >= 4, "{stats:?}");
}

#[sim::test]
async fn a_writer_blocked_on_a_full_window_across_a_partition_times_out() {
    let (_server, mut client, _accepted) = connected().await;
    net::configure(NetConfig::new().link(fixed(5)).tcp_retries(2));
    net::partition("client", "server");
    let start = Instant::now();
    let big = vec![7u8; 200 * 1024];
    let err = client.write_all(&big).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_millis(200 + 400 + 800));
}

#[sim::test(seeds = 20, check_determinism)]
async fn over_a_link_losing_most_segments_each_write_is_delivered_or_times_out_the_same_way_each_replay()
 {
    let (_server, client, mut accepted) = connected().await;
    net::configure(NetConfig::new().link(fixed(5)).tcp_retries(2));
    net::set_link("client", "server", fixed(5).loss(0.8));
    let reader = sim::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0; 64];
        while let Ok(Some(n)) = timeout(Duration::from_secs(60), accepted.read(&mut buf))
            .await
            .map(Result::ok)
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let mut sent = Vec::new();
    let outcome = loop {
        let byte = [sent.len() as u8];
        match client.try_write(&byte) {
            Ok(_) => sent.push(byte[0]),
            Err(err) => break err,
        }
        sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(outcome.kind(), ErrorKind::TimedOut, "{outcome}");
    // What arrived is a prefix of what was written: in order, no gaps.
    let got = reader.await.unwrap();
    assert!(
        sent.starts_with(&got),
        "{got:?} is not a prefix of {sent:?}"
    );
}

#[sim::test(max_time = "3h")]
async fn keepalive_notices_a_peer_cut_off_after_7200_s_and_9_probes_75_s_apart() {
    let (_server, mut client, _accepted) = connected().await;
    client.set_keepalive(true).unwrap();
    assert!(client.keepalive().unwrap());
    net::partition("client", "server");
    let start = Instant::now();
    let err = client.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // Idle since the handshake's answer: 7200 + 9 * 75 s.
    assert_eq!(start.elapsed(), Duration::from_secs(7200 + 9 * 75));
    assert!(err.to_string().contains("keepalive"), "{err}");
}

#[sim::test(max_time = "3h", seeds = 5)]
async fn keepalive_probes_go_out_on_time_even_when_no_task_waits_on_the_stream() {
    let (_server, mut client, _accepted) = connected().await;
    client.set_keepalive(true).unwrap();
    let start = Instant::now();
    net::partition("client", "server");
    // Nobody reads while the probes go unanswered; the heal comes after
    // the last one, but the connection was given up at 7875 s.
    sleep(Duration::from_secs(7900)).await;
    net::heal("client", "server");
    let err = client.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_secs(7900));
}

#[sim::test(max_time = "3h")]
async fn without_keepalive_an_idle_connection_to_a_peer_cut_off_waits_for_ever() {
    let (_server, mut client, _accepted) = connected().await;
    net::partition("client", "server");
    let waiting = timeout(Duration::from_secs(10_000), client.read(&mut [0; 8])).await;
    assert!(waiting.is_err(), "nothing unacknowledged, nothing probes");
}

#[sim::test(max_time = "6h")]
async fn keepalive_probes_that_are_answered_keep_an_idle_connection_open() {
    net::configure(
        NetConfig::new()
            .link(fixed(5))
            .keepalive_time(Duration::from_secs(600)),
    );
    let (server, listener) = listening_server().await;
    let socket = sim::net::TcpSocket::new_v4().unwrap();
    socket.set_keepalive(true).unwrap();
    let mut client = socket
        .connect(SocketAddr::new(server.ip(), 8080))
        .await
        .unwrap();
    assert!(client.keepalive().unwrap(), "inherited from the socket");
    let (mut accepted, _) = listener.accept().await.unwrap();
    // A partition shorter than the probes' patience: 9 * 75 s.
    sim::spawn(async {
        sleep(Duration::from_secs(3000)).await;
        net::partition("client", "server");
        sleep(Duration::from_secs(500)).await;
        net::heal("client", "server");
    });
    let idle = timeout(Duration::from_secs(5 * 3600), client.read(&mut [0; 8])).await;
    assert!(idle.is_err(), "the connection stayed open");
    accepted.write_all(b"still here").await.unwrap();
    let mut buf = [0; 10];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
}

#[sim::test]
async fn a_listener_made_from_a_socket_with_keepalive_passes_it_to_accepted_streams() {
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async {
            let socket = sim::net::TcpSocket::new_v4().unwrap();
            socket.set_keepalive(true).unwrap();
            socket.bind("0.0.0.0:8080".parse().unwrap()).unwrap();
            socket.listen(8).unwrap()
        })
        .await
        .unwrap();
    let client = TcpStream::connect("server:8080").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    assert!(accepted.keepalive().unwrap());
    assert!(!client.keepalive().unwrap());
}

// ----- socket options: accepted and reported as tokio's are -----

#[sim::test(seeds = 1)]
#[allow(deprecated)] // `set_tos`/`tos`, tokio's former names, are part of its list
async fn tcp_socket_and_stream_options_are_accepted_and_read_back_with_linux_defaults() {
    let (server, listener) = listening_server().await;
    let socket = sim::net::TcpSocket::new_v4().unwrap();
    assert_eq!(socket.tos_v4().unwrap(), 0);
    assert_eq!(socket.tclass_v6().unwrap(), 0);
    assert_eq!(socket.device().unwrap(), None);
    assert!(!socket.keepalive().unwrap());
    assert!(socket.take_error().unwrap().is_none());
    socket.set_tos(0x10).unwrap();
    socket.set_tclass_v6(0x20).unwrap();
    socket.bind_device(Some(b"eth0")).unwrap();
    socket.set_keepalive(true).unwrap();
    socket.set_nodelay(true).unwrap();
    assert_eq!(
        (socket.tos().unwrap(), socket.tclass_v6().unwrap()),
        (0x10, 0x20)
    );
    assert_eq!(socket.device().unwrap(), Some(b"eth0".to_vec()));
    assert_eq!(
        socket.set_tos_v4(256).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let stream = socket
        .connect(SocketAddr::new(server.ip(), 8080))
        .await
        .unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    // The stream keeps the socket's options.
    assert!(stream.keepalive().unwrap() && stream.nodelay().unwrap());
    assert!(stream.quickack().unwrap(), "on by default, as on Linux");
    stream.set_quickack(false).unwrap();
    assert!(!stream.quickack().unwrap());
    assert!(stream.take_error().unwrap().is_none());
    // Vectored try I/O.
    let parts = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
    assert_eq!(stream.try_write_vectored(&parts).unwrap(), 4);
    sleep(Duration::from_millis(10)).await; // both segments are due
    let (mut x, mut y) = ([0; 1], [0; 8]);
    let mut bufs = [
        std::io::IoSliceMut::new(&mut x),
        std::io::IoSliceMut::new(&mut y),
    ];
    assert_eq!(accepted.try_read_vectored(&mut bufs).unwrap(), 4);
    assert_eq!((&x, &y[..3]), (b"a", &b"bcd"[..]));
    let mut empty = [std::io::IoSliceMut::new(&mut y)];
    let nothing = accepted.try_read_vectored(&mut empty).unwrap_err();
    assert_eq!(nothing.kind(), ErrorKind::WouldBlock);
}

#[sim::test]
async fn take_error_takes_the_pending_error_as_linux_so_error_does() {
    let (_server, client, accepted) = connected().await;
    accepted.set_zero_linger().unwrap();
    drop(accepted);
    sleep(Duration::from_millis(10)).await;
    let err = client.take_error().unwrap().unwrap();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    // Taken: the next write does not report it again; it finds the
    // connection gone.
    assert!(client.take_error().unwrap().is_none());
    let err = client.try_write(b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

// ----- where sim differs from Linux on purpose (README's table), pinned -----

#[sim::test(seeds = 5)]
async fn on_purpose_bytes_in_flight_when_a_partition_starts_still_arrive() {
    let (_server, mut client, mut accepted) = connected().await;
    client.write_all(b"on the wire").await.unwrap();
    net::partition("client", "server"); // Linux: lost, resent after the heal
    let mut buf = [0; 11];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"on the wire");
}

#[sim::test(seeds = 5)]
async fn on_purpose_a_peer_node_killed_after_a_normal_close_reads_connection_reset_not_eof() {
    let (server, mut client, accepted) = connected().await;
    drop(accepted); // a normal close: the end of stream is on its way
    sleep(Duration::from_millis(20)).await;
    server.kill(); // Linux: the client has read EOF and sees nothing more
    let err = client.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[sim::test(seeds = 5)]
async fn on_purpose_writes_to_a_live_peer_that_shut_down_reading_return_ok_without_pacing() {
    let (_server, client, accepted) = connected().await;
    accepted.shutdown_std(Shutdown::Read).unwrap();
    sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    let big = vec![0u8; 1 << 20];
    for _ in 0..8 {
        // Linux: the peer's buffer fills and the writer blocks.
        assert_eq!(client.try_write(&big).unwrap(), big.len());
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[sim::test(seeds = 5)]
async fn on_purpose_a_connection_is_queued_for_accept_when_its_request_arrives() {
    net::configure(NetConfig::new().link(fixed(5)));
    let (_server, listener) = listening_server().await;
    let start = Instant::now();
    let connecting = sim::spawn(TcpStream::connect("server:8080"));
    let (_accepted, _) = listener.accept().await.unwrap();
    // Linux: after the handshake's last ACK, a round trip and a half.
    assert_eq!(start.elapsed(), Duration::from_millis(5));
    connecting.await.unwrap().unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

/// The socket table (`sim::net::netstat::sockets`) follows a connection
/// through its life as `ss` would: listening, established with bytes
/// queued, CLOSE_WAIT once the peer closed, then TIME_WAIT on the side
/// that closed first (with `NetConfig::time_wait` set; it is 0 by default).
#[test]
fn the_socket_table_follows_a_connection_as_ss_shows_it() {
    use sim::net::netstat::{Protocol, SocketState, sockets};
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        sim::net::configure(sim::net::NetConfig::new().time_wait(Duration::from_secs(60)));
        let server = sim::node::Builder::new("server").build();
        let accepted = server.spawn(async {
            let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            (listener, stream)
        });
        sleep(Duration::from_millis(1)).await;
        let mut client = TcpStream::connect("server:80").await.unwrap();
        let (_listener, mut stream) = accepted.await.unwrap();
        client.write_all(b"hello").await.unwrap();
        sleep(Duration::from_millis(10)).await;
        let table = sockets(&server);
        assert!(
            table
                .iter()
                .any(|s| s.state == SocketState::Listen { queued: 0 } && s.local.port() == 80),
            "{table:?}"
        );
        let conn = table
            .iter()
            .find(|s| s.state == SocketState::Established)
            .copied()
            .unwrap_or_else(|| panic!("{table:?}"));
        assert_eq!((conn.protocol, conn.recv_queue), (Protocol::Tcp, 5));
        assert_eq!(conn.peer, Some(client.local_addr().unwrap()));

        // The client closes: the server's end is in CLOSE_WAIT.
        drop(client);
        sleep(Duration::from_millis(10)).await;
        assert!(
            sockets(&server)
                .iter()
                .any(|s| s.state == SocketState::CloseWait)
        );
        // The server reads the rest and closes: the client's port waits.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        drop(stream);
        sleep(Duration::from_millis(10)).await;
        let client_table = sockets(sim::node::current());
        assert!(
            client_table
                .iter()
                .any(|s| matches!(s.state, SocketState::TimeWait { .. })),
            "{client_table:?}"
        );
    });
}

//! The network's sockets against tokio's: `Send + Sync` keys (and what a
//! use on another thread or after the simulation says), split halves,
//! `AsyncWriteExt::shutdown`, `try_*` and readiness, `peek`, `TcpSocket`,
//! the new UDP methods, `lookup_host` and `ToSocketAddrs`.

use std::cell::Cell;
use std::future::poll_fn;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net::tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
use sim::net::{LinkConfig, NetConfig, TcpListener, TcpSocket, TcpStream, UdpSocket};
use sim::node::Builder;
use sim::time::{Instant, sleep, timeout};

fn assert_send_sync<T: Send + Sync>() {}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn sockets_and_halves_are_send_and_sync() {
    assert_send_sync::<TcpStream>();
    assert_send_sync::<TcpListener>();
    assert_send_sync::<TcpSocket>();
    assert_send_sync::<UdpSocket>();
    assert_send_sync::<OwnedReadHalf>();
    assert_send_sync::<OwnedWriteHalf>();
    assert_send_sync::<ReadHalf<'static>>();
    assert_send_sync::<WriteHalf<'static>>();
    assert_send_sync::<ReuniteError>();
}

/// tokio's `spawn` wants `Send` futures: the sockets' futures are.
#[sim::test(seeds = 1)]
async fn the_sockets_futures_are_send() {
    let (client, server, listener) = pair().await;
    assert_send(&TcpStream::connect("127.0.0.1:80"));
    assert_send(&listener.accept());
    assert_send(&client.readable());
    assert_send(&client.writable());
    assert_send(&client.peek(&mut [0; 1]));
    assert_send(
        &TcpSocket::new_v4()
            .unwrap()
            .connect("127.0.0.1:80".parse().unwrap()),
    );
    assert_send(&sim::net::lookup_host("localhost:80"));
    let udp = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    assert_send(&udp.recv_from(&mut [0; 1]));
    assert_send(&udp.send_to(b"x", "127.0.0.1:1"));
    assert_send(&udp.readable());
    assert_send(&udp.peek_from(&mut [0; 1]));
    let (mut read, _write) = server.into_split();
    assert_send(&read.peek(&mut [0; 1]));
    // A whole connection handled in a `Send` task, as a tokio server does.
    fn spawn_send<F: std::future::Future + Send + 'static>(
        f: F,
    ) -> sim::task::JoinHandle<F::Output> {
        sim::spawn(f)
    }
    spawn_send(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"sent from a Send task").await.unwrap();
        stream.close().await.unwrap();
    });
    let mut other = TcpStream::connect("127.0.0.1:80").await.unwrap();
    let mut got = String::new();
    other.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "sent from a Send task");
    drop(client);
}

/// A listener on port 80 of the client's node, a client and the accepted
/// end.
async fn pair() -> (TcpStream, TcpStream, TcpListener) {
    let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server, listener)
}

/// An echo server on node "server", port 7: returns what it reads.
fn echo_server() {
    Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:7").await.unwrap();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                sim::spawn(async move {
                    // Not `stream.split()`: futures' `AsyncReadExt::split`
                    // (by value) would be found first.
                    let (mut read, mut write) = TcpStream::split(&mut stream);
                    futures::io::copy(&mut read, &mut write).await.unwrap();
                    write.close().await.unwrap();
                });
            }
        })
        .build();
}

#[sim::test]
async fn owned_halves_work_from_two_tasks_at_once() {
    echo_server();
    sleep(Duration::from_millis(1)).await;
    let stream = TcpStream::connect("server:7").await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = sim::spawn(async move {
        for i in 0..50u8 {
            write.write_all(&[i; 100]).await.unwrap();
            sim::task::yield_now().await;
        }
        // Dropping the write half ends the request: the echo then ends too.
    });
    let reader = sim::spawn(async move {
        let mut echoed = Vec::new();
        read.read_to_end(&mut echoed).await.unwrap();
        echoed
    });
    writer.await.unwrap();
    let echoed = reader.await.unwrap();
    let expected: Vec<u8> = (0..50u8).flat_map(|i| [i; 100]).collect();
    assert_eq!(echoed, expected);
}

#[sim::test]
async fn borrowed_halves_work_in_two_futures_at_once() {
    let (mut client, mut server, _listener) = pair().await;
    let (mut read, mut write) = TcpStream::split(&mut client);
    let talking = async {
        write.write_all(b"one").await.unwrap();
        write.close().await.unwrap();
    };
    let echoing = async {
        let mut request = Vec::new();
        server.read_to_end(&mut request).await.unwrap();
        server.write_all(&request).await.unwrap();
    };
    let listening = async {
        let mut reply = [0; 3];
        read.read_exact(&mut reply).await.unwrap();
        reply
    };
    let ((), (), reply) = futures::join!(talking, echoing, listening);
    assert_eq!(&reply, b"one");
    assert_eq!(read.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(write.local_addr().unwrap(), server.peer_addr().unwrap());
}

#[sim::test]
async fn halves_reunite_only_with_their_own() {
    let (a, _a_peer, listener) = pair().await;
    let b = TcpStream::connect("127.0.0.1:80").await.unwrap();
    let (_b_peer, _) = listener.accept().await.unwrap();
    let a_addr = a.local_addr().unwrap();
    let (a_read, a_write) = a.into_split();
    let (b_read, b_write) = b.into_split();
    let err = a_read.reunite(b_write).unwrap_err();
    assert!(
        err.to_string().contains("not from the same stream"),
        "{err}"
    );
    let ReuniteError(a_read, b_write) = err;
    let a = a_write.reunite(a_read).unwrap();
    assert_eq!(a.local_addr().unwrap(), a_addr);
    let b = b_read.reunite(b_write).unwrap();
    assert_ne!(b.local_addr().unwrap(), a_addr);
    // Reunited, the write direction is still open.
    let mut a = a;
    a.write_all(b"still open").await.unwrap();
}

#[sim::test]
async fn dropping_the_write_half_ends_the_stream_and_the_read_half_goes_on() {
    let (client, mut server, _listener) = pair().await;
    let (mut read, write) = client.into_split();
    drop(write);
    let mut buf = [0; 8];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0, "end of stream");
    server.write_all(b"answer").await.unwrap();
    let n = read.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"answer");
    // The direction is shut down: writing through the half's stream fails.
    let stream: &TcpStream = read.as_ref();
    assert_eq!(
        stream.try_write(b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
}

#[sim::test]
async fn a_forgotten_write_half_leaves_the_stream_open() {
    let (client, mut server, _listener) = pair().await;
    let (read, write) = client.into_split();
    write.forget();
    let waiting = timeout(Duration::from_secs(1), server.read(&mut [0; 8])).await;
    assert!(
        waiting.is_err(),
        "no end of stream while the read half lives"
    );
    drop(read);
    assert_eq!(server.read(&mut [0; 8]).await.unwrap(), 0);
}

#[sim::test]
async fn try_read_and_try_write_would_block_until_ready() {
    sim::net::configure(NetConfig::new().tcp_buffer(8));
    let (client, server, _listener) = pair().await;
    let mut buf = [0; 16];
    assert_eq!(
        server.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    // The window takes 8 bytes, then the writer would block.
    assert_eq!(client.try_write(b"0123456789").unwrap(), 8);
    assert_eq!(
        client.try_write(b"89").unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    // `writable` wakes when the reader makes room.
    let woke = Rc::new(Cell::new(false));
    let waiter = sim::spawn({
        let woke = woke.clone();
        async move {
            client.writable().await.unwrap();
            woke.set(true);
            client.try_write(b"89").unwrap()
        }
    });
    server.readable().await.unwrap();
    sim::task::yield_now().await;
    assert!(!woke.get(), "the window is still full");
    let n = server.try_read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"01234567");
    assert_eq!(waiter.await.unwrap(), 2);
    assert!(woke.get());
    server.readable().await.unwrap();
    let n = server.try_read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"89");
}

#[sim::test]
async fn readable_wakes_when_bytes_arrive() {
    let latency = LinkConfig::new().fixed_latency(Duration::from_millis(20));
    sim::net::configure(NetConfig::new().link(latency));
    let (client, server, _listener) = pair().await;
    let start = Instant::now();
    let reading = sim::spawn(async move {
        server.readable().await.unwrap();
        let mut buf = [0; 8];
        let n = server.try_read(&mut buf).unwrap();
        (Instant::now() - start, buf[..n].to_vec())
    });
    sleep(Duration::from_millis(5)).await;
    client.try_write(b"late").unwrap();
    let (waited, got) = reading.await.unwrap();
    assert_eq!(waited, Duration::from_millis(25));
    assert_eq!(got, b"late");
    // End of stream is readable too, and reads 0.
    drop(client);
}

#[sim::test]
async fn peek_does_not_consume() {
    let (mut client, mut server, _listener) = pair().await;
    client.write_all(b"abcdef").await.unwrap();
    let mut head = [0; 3];
    assert_eq!(server.peek(&mut head).await.unwrap(), 3);
    assert_eq!(&head, b"abc");
    let mut longer = [0; 4];
    assert_eq!(server.peek(&mut longer).await.unwrap(), 4);
    assert_eq!(&longer, b"abcd");
    let mut all = [0; 6];
    server.read_exact(&mut all).await.unwrap();
    assert_eq!(&all, b"abcdef");
    let (mut read, _write) = server.into_split();
    client.write_all(b"gh").await.unwrap();
    assert_eq!(read.peek(&mut head).await.unwrap(), 2);
    assert_eq!(read.read(&mut head).await.unwrap(), 2);
    assert_eq!(&head[..2], b"gh");
}

#[sim::test]
async fn stream_options_are_kept() {
    let (client, mut server, listener) = pair().await;
    assert!(!client.nodelay().unwrap());
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_ttl(7).unwrap();
    assert_eq!(client.ttl().unwrap(), 7);
    assert_eq!(
        client.set_ttl(0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(listener.ttl().unwrap(), 64);
    listener.set_ttl(9).unwrap();
    assert_eq!(listener.ttl().unwrap(), 9);
    client.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(3)));
    // A zero linger resets the peer instead of ending its stream.
    client.set_zero_linger().unwrap();
    drop(client);
    let err = server.read(&mut [0; 1]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(err.to_string().contains("linger time of zero"), "{err}");
}

#[sim::test]
async fn a_bound_tcp_socket_connects_from_its_port() {
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async { TcpListener::bind("0.0.0.0:80").await.unwrap() })
        .await
        .unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    assert_eq!(socket.local_addr().unwrap(), "0.0.0.0:0".parse().unwrap());
    socket.bind("0.0.0.0:5000".parse().unwrap()).unwrap();
    assert_eq!(socket.local_addr().unwrap().port(), 5000);
    // The bind reserved the port.
    let taken = TcpSocket::new_v4().unwrap();
    let err = taken.bind("0.0.0.0:5000".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let err = socket.bind("0.0.0.0:5001".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "bound once");
    let err = TcpSocket::new_v6()
        .unwrap()
        .bind("0.0.0.0:1".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidInput,
        "an IPv4 address on an IPv6 socket"
    );
    socket.set_nodelay(true).unwrap();
    let stream = socket
        .connect(SocketAddr::new(server.ip(), 80))
        .await
        .unwrap();
    assert_eq!(stream.local_addr().unwrap().port(), 5000);
    assert!(
        stream.nodelay().unwrap(),
        "the stream keeps the socket's options"
    );
    let (_accepted, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.port(), 5000);
    // Dropping a bound socket that never connected frees its port.
    let unused = TcpSocket::new_v4().unwrap();
    unused.bind("0.0.0.0:6000".parse().unwrap()).unwrap();
    drop(unused);
    TcpListener::bind("0.0.0.0:6000").await.unwrap();
}

#[sim::test]
async fn a_tcp_socket_listens_and_reuseaddr_skips_time_wait() {
    sim::net::configure(NetConfig::new().time_wait(Duration::from_secs(60)));
    let socket = TcpSocket::new_v4().unwrap();
    assert!(!socket.reuseaddr().unwrap());
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    assert!(socket.reuseaddr().unwrap() && socket.reuseport().unwrap());
    socket.set_send_buffer_size(1000).unwrap();
    assert_eq!(socket.send_buffer_size().unwrap(), 1000);
    socket.bind("0.0.0.0:80".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    assert_eq!(listener.local_addr().unwrap().port(), 80);
    let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    drop((client, accepted));
    drop(listener);
    // The port is in TIME_WAIT: a plain bind fails, SO_REUSEADDR binds it.
    let err = TcpListener::bind("0.0.0.0:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind("0.0.0.0:80".parse().unwrap()).unwrap();
    // An unbound socket listens on an ephemeral port.
    let ephemeral = TcpSocket::new_v4().unwrap().listen(8).unwrap();
    assert!(ephemeral.local_addr().unwrap().port() >= 49152);
}

#[sim::test]
async fn the_recv_buffer_size_is_the_window() {
    let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(3).unwrap();
    let client = socket
        .connect("127.0.0.1:80".parse().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    assert_eq!(server.try_write(b"abcdef").unwrap(), 3);
    assert_eq!(
        server.try_write(b"d").unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    drop(client);
}

#[sim::test]
async fn udp_try_methods_peek_and_readiness() {
    let latency = LinkConfig::new().fixed_latency(Duration::from_millis(10));
    sim::net::configure(NetConfig::new().link(latency));
    let server = Builder::new("server").build();
    let b = server
        .spawn(async { UdpSocket::bind("0.0.0.0:9000").await.unwrap() })
        .await
        .unwrap();
    let a = UdpSocket::bind("0.0.0.0:9001").await.unwrap();
    let to_b = SocketAddr::new(server.ip(), 9000);
    let mut buf = [0; 32];
    assert_eq!(
        b.try_recv_from(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        a.try_send(b"x").unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    a.writable().await.unwrap();
    assert_eq!(a.try_send_to(b"first", to_b).unwrap(), 5);
    assert_eq!(
        poll_fn(|cx| a.poll_send_to(cx, b"second", to_b))
            .await
            .unwrap(),
        6
    );
    // Nothing due yet: `readable` waits for the latency.
    let start = Instant::now();
    b.readable().await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_millis(10));
    let (n, from) = b.peek_from(&mut buf).await.unwrap();
    let a_addr = SocketAddr::new(sim::node::current().ip(), 9001);
    assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
    assert_eq!(b.try_peek_from(&mut buf).unwrap(), (5, from));
    assert_eq!(b.peek_sender().await.unwrap(), from);
    let mut small = [0; 3];
    assert_eq!(b.try_peek_from(&mut small).unwrap(), (3, from), "truncated");
    assert_eq!(b.recv_from(&mut buf).await.unwrap(), (5, from));
    assert_eq!(b.try_recv_from(&mut buf).unwrap(), (6, from));
    assert_eq!(&buf[..6], b"second");
    // Connected: `try_send` / `try_recv` / `poll_recv` and `peer_addr`.
    a.connect(to_b).await.unwrap();
    b.connect(from).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), to_b);
    a.try_send(b"third").unwrap();
    poll_fn(|cx| a.poll_send(cx, b"fourth")).await.unwrap();
    poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
    assert_eq!(b.try_recv(&mut buf).unwrap(), 5);
    assert_eq!(b.recv(&mut buf).await.unwrap(), 6);
    assert_eq!(&buf[..6], b"fourth");
    assert_eq!(
        b.try_recv(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    // Options are kept.
    assert_eq!(a.ttl().unwrap(), 64);
    a.set_ttl(32).unwrap();
    assert_eq!(a.ttl().unwrap(), 32);
    assert!(!a.broadcast().unwrap());
    a.set_broadcast(true).unwrap();
    assert!(a.broadcast().unwrap());
}

#[sim::test]
async fn lookup_host_and_generic_addresses() {
    let db = Builder::new("db").build();
    let addrs: Vec<SocketAddr> = sim::net::lookup_host("db:5432").await.unwrap().collect();
    assert_eq!(addrs, vec![SocketAddr::new(db.ip(), 5432)]);
    let err = sim::net::lookup_host(("nowhere", 1)).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Code generic over tokio's `ToSocketAddrs` compiles unchanged.
    async fn connect<A: sim::net::ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }
    let _listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    connect("localhost:80").await.unwrap();
    connect(("127.0.0.1".parse::<std::net::IpAddr>().unwrap(), 80))
        .await
        .unwrap();
}

/// What a panic said.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn sockets_used_on_another_thread_say_so() {
    let mut rt = sim::Runtime::new(1);
    let (client, server, listener, udp) = rt.block_on(async {
        let (client, server, listener) = pair().await;
        (
            client,
            server,
            listener,
            UdpSocket::bind("0.0.0.0:53").await.unwrap(),
        )
    });
    let report = std::thread::spawn(move || {
        let mut errors = vec![
            client.local_addr().unwrap_err(),
            client.try_write(b"x").unwrap_err(),
            listener.local_addr().unwrap_err(),
            udp.try_send_to(b"x", "10.0.0.1:1".parse().unwrap())
                .unwrap_err(),
        ];
        let mut server = server;
        errors.push(futures::executor::block_on(server.read(&mut [0; 1])).unwrap_err());
        let panicked = catch_unwind(AssertUnwindSafe(move || client.into_split())).unwrap_err();
        (errors, message(panicked))
    })
    .join()
    .unwrap();
    let (errors, panicked) = report;
    for err in errors {
        assert!(err.to_string().contains("another thread"), "{err}");
    }
    assert!(
        panicked.starts_with("sim::net::TcpStream::into_split:"),
        "{panicked}"
    );
    assert!(panicked.contains("another thread"), "{panicked}");
    drop(rt);
}

#[test]
fn sockets_used_after_their_simulation_ended_say_so() {
    let mut rt = sim::Runtime::new(1);
    let (client, mut server, _listener, socket) = rt.block_on(async {
        let (client, server, listener) = pair().await;
        (client, server, listener, TcpSocket::new_v4().unwrap())
    });
    drop(rt);
    let err = futures::executor::block_on(server.read(&mut [0; 1])).unwrap_err();
    assert!(err.to_string().contains("simulation has ended"), "{err}");
    let err = socket.reuseaddr().unwrap_err();
    assert!(err.to_string().contains("simulation has ended"), "{err}");
    let panicked = catch_unwind(AssertUnwindSafe(move || client.into_split())).unwrap_err();
    assert!(message(panicked).contains("simulation has ended"));
}

#[test]
fn the_tcp_module_has_tokios_paths() {
    // `tokio::net::tcp::*` as `sim::net::tcp::*`.
    fn takes(_: Option<(sim::net::tcp::OwnedReadHalf, sim::net::tcp::OwnedWriteHalf)>) {}
    takes(None);
}

/// What needs tokio's traits and types (`AsyncWriteExt::shutdown`,
/// `ReadBuf`): run with `--features tokio`, as CI does.
#[cfg(feature = "tokio")]
mod tokio_traits {
    use super::*;
    use std::net::Shutdown;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

    #[sim::test]
    async fn tokio_shutdown_ends_the_write_direction() {
        let (mut client, mut server, _listener) = pair().await;
        client.write_all(b"last words").await.unwrap();
        // tokio's `AsyncWriteExt::shutdown`: no inherent method shadows it.
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        // The other direction still works.
        server.write_all(b"ok").await.unwrap();
        let mut reply = [0; 2];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ok");
        // Shutting down twice is fine; `shutdown_std(Read)` ends reading.
        client.shutdown().await.unwrap();
        client.shutdown_std(Shutdown::Read).unwrap();
        assert_eq!(client.read(&mut reply).await.unwrap(), 0);
    }

    #[sim::test]
    async fn an_owned_write_half_shuts_down_with_tokio_too() {
        let (client, mut server, _listener) = pair().await;
        let (_read, mut write) = client.into_split();
        write.write_all(b"bye").await.unwrap();
        write.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    }

    #[sim::test]
    async fn poll_peek_fills_a_read_buf_without_consuming() {
        let (mut client, server, _listener) = pair().await;
        client.write_all(b"abcdef").await.unwrap();
        let mut storage = [0; 4];
        let mut buf = ReadBuf::new(&mut storage);
        let n = poll_fn(|cx| server.poll_peek(cx, &mut buf)).await.unwrap();
        assert_eq!((n, buf.filled()), (4, &b"abcd"[..]));
        let (mut read, _write) = server.into_split();
        let mut storage = [0; 2];
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| read.poll_peek(cx, &mut buf)).await.unwrap();
        let mut all = Vec::new();
        client.shutdown().await.unwrap();
        read.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcdef");
    }

    #[sim::test]
    async fn udp_poll_methods_fill_read_bufs() {
        let in_order = LinkConfig::new().fixed_latency(Duration::from_millis(1));
        sim::net::configure(NetConfig::new().link(in_order));
        let a = UdpSocket::bind("0.0.0.0:9001").await.unwrap();
        let b = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
        let to_b: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        // Sent over loopback: from 127.0.0.1, as on Linux.
        let from: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        a.try_send_to(b"first", to_b).unwrap();
        a.try_send_to(b"second", to_b).unwrap();
        let mut storage = [0; 3];
        let mut small = ReadBuf::new(&mut storage);
        let peeked = poll_fn(|cx| b.poll_peek_from(cx, &mut small))
            .await
            .unwrap();
        assert_eq!((peeked, small.filled()), (from, &b"fir"[..]));
        let mut storage = [0; 32];
        let mut read = ReadBuf::new(&mut storage);
        let got = poll_fn(|cx| b.poll_recv_from(cx, &mut read)).await.unwrap();
        assert_eq!((got, read.filled()), (from, &b"first"[..]));
        b.connect(from).await.unwrap();
        let mut read = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_recv(cx, &mut read)).await.unwrap();
        assert_eq!(read.filled(), b"second");
    }

    // ----- readiness (`ready`, `try_io`, `async_io`) and `BufMut` receives -----

    use tokio::io::Interest;

    #[sim::test]
    async fn tcp_ready_reports_what_the_stream_is_ready_for() {
        sim::net::configure(NetConfig::new().tcp_buffer(4));
        let (client, server, _listener) = pair().await;
        let both = Interest::READABLE | Interest::WRITABLE;
        let ready = client.ready(both).await.unwrap();
        assert!(ready.is_writable() && !ready.is_readable());
        // A full window: not writable until the peer reads.
        assert_eq!(client.try_write(b"abcdef").unwrap(), 4);
        let not_yet = timeout(Duration::from_secs(1), client.ready(Interest::WRITABLE)).await;
        assert!(not_yet.is_err(), "the peer's window is full");
        let ready = server.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        let mut buf = Vec::with_capacity(16);
        assert_eq!(server.try_read_buf(&mut buf).unwrap(), 4);
        assert_eq!(buf, b"abcd");
        assert!(
            client
                .ready(Interest::WRITABLE)
                .await
                .unwrap()
                .is_writable()
        );
    }

    #[sim::test]
    async fn try_io_runs_only_when_ready_and_async_io_waits() {
        let (client, server, _listener) = pair().await;
        let ran = Cell::new(false);
        let err = server
            .try_io(Interest::READABLE, || {
                ran.set(true);
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(!ran.get(), "not ready: f is not called");
        let writer = sim::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            client.try_write(b"late").unwrap();
            client
        });
        let start = Instant::now();
        let mut buf = [0; 8];
        let n = server
            .async_io(Interest::READABLE, || server.try_read(&mut buf))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"late");
        assert!(start.elapsed() >= Duration::from_secs(1));
        drop(writer.await.unwrap());
    }

    #[sim::test]
    async fn split_halves_have_ready_and_try_read_buf() {
        let (client, mut server, _listener) = pair().await;
        let (read, _write) = server.split();
        client.try_write(b"xy").unwrap();
        assert!(read.ready(Interest::READABLE).await.unwrap().is_readable());
        let mut buf = Vec::with_capacity(4);
        assert_eq!(read.try_read_buf(&mut buf).unwrap(), 2);
        let (owned, _w) = client.into_split();
        assert!(owned.ready(Interest::WRITABLE).await.unwrap().is_writable());
        assert_eq!(
            owned.try_read_buf(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    }

    #[sim::test]
    async fn udp_buf_receives_fill_buf_muts() {
        let a = UdpSocket::bind("0.0.0.0:9001").await.unwrap();
        let b = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
        let to_b: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let mut buf = Vec::with_capacity(32);
        assert_eq!(
            b.try_recv_buf_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        a.send_to(b"one", to_b).await.unwrap();
        let (n, from) = b.recv_buf_from(&mut buf).await.unwrap();
        assert_eq!((n, from.port(), &buf[..]), (3, 9001, &b"one"[..]));
        b.connect("127.0.0.1:9001").await.unwrap();
        a.send_to(b"two", to_b).await.unwrap();
        assert_eq!(b.recv_buf(&mut buf).await.unwrap(), 3);
        assert_eq!(buf, b"onetwo");
        assert!(
            b.ready(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap()
                .is_writable()
        );
        let ran = b.try_io(Interest::READABLE, || Ok(7));
        assert_eq!(ran.unwrap_err().kind(), ErrorKind::WouldBlock);
        a.send_to(b"3", to_b).await.unwrap();
        let n = b
            .async_io(Interest::READABLE, || b.try_recv_buf(&mut buf))
            .await
            .unwrap();
        assert_eq!((n, &buf[..]), (1, &b"onetwo3"[..]));
    }
}

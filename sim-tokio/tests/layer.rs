//! The tokio layer's API, run twice by CI: against real tokio
//! (`cargo test -p sim-tokio --all-features`) and against the simulation
//! (`RUSTFLAGS="--cfg sim" cargo test -p sim-tokio --all-features`). The
//! same source passing both is what "drop-in" means.

extern crate sim_tokio as tokio;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_libraries_store_are_send_and_sync() {
    assert_send_sync::<tokio::task::JoinHandle<u8>>();
    assert_send_sync::<tokio::task::AbortHandle>();
    assert_send_sync::<tokio::time::Sleep>();
    assert_send_sync::<tokio::time::Interval>();
    assert_send_sync::<tokio::net::TcpStream>();
    assert_send_sync::<tokio::net::TcpListener>();
    assert_send_sync::<tokio::net::UdpSocket>();
    assert_send_sync::<tokio::net::tcp::OwnedReadHalf>();
    assert_send_sync::<tokio::net::tcp::OwnedWriteHalf>();
    assert_send_sync::<tokio::runtime::Handle>();
    assert_send_sync::<tokio::task::JoinSet<u8>>();
    assert_send_sync::<tokio::task::JoinError>();
}

/// What libraries written for tokio do with its types compiles and works:
/// hyper-util boxes a `JoinError` into `Box<dyn Error + Send + Sync>` and
/// converts `Instant`s to and from std's; tonic lends the stream to
/// `socket2` (`AsFd`); the rest of tokio's modules are still there.
#[tokio::test(start_paused = true)]
async fn what_libraries_call_compiles_and_works() {
    let task = tokio::spawn(std::future::pending::<()>());
    task.abort();
    let boxed: Box<dyn std::error::Error + Send + Sync> = task.await.unwrap_err().into();
    assert!(boxed.to_string().contains("cancelled"), "{boxed}");

    let now = Instant::now();
    let std_now: std::time::Instant = now.into();
    assert_eq!(
        Instant::from(std_now + Duration::from_secs(2)),
        now + Duration::from_secs(2)
    );

    fn lends_a_descriptor<T: std::os::fd::AsFd>(_: &T) {}
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    lends_a_descriptor(&listener);

    // tokio's own items the layer does not replace are re-exported.
    let _: Option<tokio::net::UnixStream> = None;
    let _ = tokio::task::unconstrained(async {}).await;
    let _: Option<tokio::runtime::RuntimeMetrics> = None;
}

/// Code that binds a std listener, or configures a socket with `socket2`,
/// and hands it over (hyper-util's connector does) gets a working socket.
#[tokio::test(start_paused = true)]
async fn std_sockets_handed_over() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from_std(std_listener).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);

    let accepting = tokio::spawn(async move { listener.accept().await.unwrap().1 });
    let configured = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None);
    let configured = configured.unwrap();
    configured.set_nonblocking(true).unwrap();
    let socket = tokio::net::TcpSocket::from_std_stream(configured.into());
    let stream = socket.connect(addr).await.unwrap();
    assert_eq!(accepting.await.unwrap(), stream.local_addr().unwrap());
}

#[tokio::test(start_paused = true)]
async fn spawn_join_abort() {
    let task = tokio::spawn(async { 40 + 2 });
    assert_eq!(task.await.unwrap(), 42);

    let forever = tokio::spawn(sleep(Duration::from_secs(1_000_000)));
    let abort = forever.abort_handle();
    assert!(!forever.is_finished());
    abort.abort();
    assert!(forever.await.unwrap_err().is_cancelled());

    let blocking = tokio::task::spawn_blocking(|| (1..=10u32).sum::<u32>());
    assert_eq!(blocking.await.unwrap(), 55);

    let handle = tokio::runtime::Handle::current();
    assert_eq!(handle.spawn(async { 7 }).await.unwrap(), 7);
    tokio::task::yield_now().await;
}

#[tokio::test(start_paused = true)]
async fn virtual_time_sleeps_times_out_and_ticks() {
    let start = Instant::now();
    sleep(Duration::from_secs(600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(600));

    let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(1))).await;
    assert!(slow.is_err());
    assert_eq!(
        timeout(Duration::from_millis(10), async { 5 })
            .await
            .unwrap(),
        5
    );

    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let t0 = Instant::now();
    for _ in 0..4 {
        ticks.tick().await;
    }
    assert_eq!(t0.elapsed(), Duration::from_millis(300));

    let t2 = Instant::now();
    ticks.reset_at(Instant::now() + Duration::from_millis(30));
    ticks.tick().await;
    ticks.reset_after(Duration::from_millis(20));
    ticks.tick().await;
    ticks.reset_immediately();
    ticks.tick().await;
    assert_eq!(t2.elapsed(), Duration::from_millis(50));

    let mut pinned = Box::pin(sleep(Duration::from_secs(5)));
    pinned
        .as_mut()
        .reset(Instant::now() + Duration::from_secs(1));
    let t1 = Instant::now();
    pinned.await;
    assert_eq!(t1.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn join_set_yields_in_completion_order() {
    let mut set = JoinSet::new();
    for ms in [30u64, 10, 20] {
        set.spawn(async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
    }
    assert_eq!(set.len(), 3);
    let mut order = Vec::new();
    while let Some(done) = set.join_next().await {
        order.push(done.unwrap());
    }
    assert_eq!(order, [10, 20, 30]);

    let mut doomed = JoinSet::new();
    doomed.spawn(sleep(Duration::from_secs(60)));
    doomed.shutdown().await;
    assert!(doomed.is_empty());

    let mut all = JoinSet::new();
    for i in 0..5u32 {
        all.spawn(async move { i * i });
    }
    let mut squares = all.join_all().await;
    squares.sort();
    assert_eq!(squares, [0, 1, 4, 9, 16]);
}

#[tokio::test(start_paused = true)]
async fn select_supports_tokio_syntax() {
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    tx.send(1).await.unwrap();
    let got = tokio::select! {
        Some(v) = rx.recv() => v,
        _ = sleep(Duration::from_secs(1)) => 0,
    };
    assert_eq!(got, 1);

    // A refutable pattern that does not match disables its branch.
    drop(tx);
    let got = tokio::select! {
        Some(v) = rx.recv() => v,
        _ = sleep(Duration::from_millis(5)) => 99,
    };
    assert_eq!(got, 99);

    // Preconditions, `biased;` and `else`.
    let open = false;
    let got = tokio::select! {
        biased;
        _ = async {}, if open => 1,
        _ = std::future::pending::<()>(), if open => 2,
        else => 3,
    };
    assert_eq!(got, 3);

    // Handlers run after the futures are dropped, and `break` leaves the loop.
    let (done_tx, mut done_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        sleep(Duration::from_millis(30)).await;
        done_tx.send(()).unwrap();
    });
    let mut beats = 0;
    loop {
        tokio::select! {
            _ = &mut done_rx => break,
            _ = sleep(Duration::from_millis(10)) => beats += 1,
        }
    }
    assert!(beats >= 2, "{beats}");
}

#[tokio::test(start_paused = true)]
async fn tcp_echo_over_the_network() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (mut read, mut write) = socket.into_split();
        let mut buf = [0u8; 5];
        read.read_exact(&mut buf).await.unwrap();
        write.write_all(&buf).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut back = [0u8; 5];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"hello");
    assert_eq!(
        client.read(&mut back).await.unwrap(),
        0,
        "the server shut down its side"
    );
    server.await.unwrap();
}

tokio::task_local! {
    static REQUEST: u32;
}

#[tokio::test(start_paused = true)]
async fn task_locals_and_local_sets() {
    let seen = REQUEST.scope(7, async { REQUEST.get() }).await;
    assert_eq!(seen, 7);

    let local = tokio::task::LocalSet::new();
    let shared = std::rc::Rc::new(3);
    let out = local
        .run_until(async move {
            tokio::task::spawn_local(async move { *shared + 1 })
                .await
                .unwrap()
        })
        .await;
    assert_eq!(out, 4);
}

#[test]
fn a_runtime_built_by_hand_runs_futures() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let task = tokio::spawn(async {
            sleep(Duration::from_secs(10)).await;
            "done"
        });
        task.await.unwrap()
    });
    assert_eq!(out, "done");
    let spawned = rt.spawn(async { 9 });
    assert_eq!(rt.block_on(spawned).unwrap(), 9);
}

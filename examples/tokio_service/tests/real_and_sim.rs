//! The service's happy path, in plain tokio: these tests name no
//! simulation. `cargo test` runs them on real tokio (127.0.0.1, real time);
//! `RUSTFLAGS="--cfg sim" cargo test` runs the same source on the
//! simulation, each test over many seeds.

use std::time::Duration;

use hyper::StatusCode;
use tokio::net::TcpListener;
use tokio_service_example::{Client, Config, Event, Listeners, Push, Subscriber, run};

/// A running node: its HTTP base URL, its push channel's address and its
/// replication endpoint's URL.
struct Started {
    http: String,
    push: String,
    replica: String,
}

/// Starts a node on three fresh local ports.
async fn start(config: Config) -> Started {
    let listeners = Listeners {
        http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        push: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        replica: TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let started = Started {
        http: format!("http://{}", listeners.http.local_addr().unwrap()),
        push: listeners.push.local_addr().unwrap().to_string(),
        replica: format!("http://{}", listeners.replica.local_addr().unwrap()),
    };
    tokio::spawn(run(config, listeners));
    started
}

/// A backup and a primary replicating to it.
async fn pair() -> (Started, Started) {
    let backup = start(Config::backup()).await;
    let primary = start(Config::primary(backup.replica.clone())).await;
    (primary, backup)
}

#[tokio::test]
async fn put_then_get() {
    let node = start(Config::backup()).await;
    let client = Client::new(node.http);
    assert_eq!(client.get("greeting").await.unwrap(), None);
    assert_eq!(
        client.put("greeting", "hello").await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(
        client.get("greeting").await.unwrap().as_deref(),
        Some("hello")
    );
    assert_eq!(
        client.put("greeting", "hello again").await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(
        client.get("greeting").await.unwrap().as_deref(),
        Some("hello again")
    );
}

#[tokio::test]
async fn an_acknowledged_write_is_on_the_backup() {
    let (primary, backup) = pair().await;
    let (primary, backup) = (Client::new(primary.http), Client::new(backup.http));
    for i in 0..5 {
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        assert_eq!(primary.put(&key, &value).await.unwrap(), StatusCode::OK);
        // Acknowledged means replicated: the backup has it already.
        assert_eq!(backup.get(&key).await.unwrap(), Some(value.clone()));
        assert_eq!(primary.get(&key).await.unwrap(), Some(value));
    }
}

#[tokio::test]
async fn a_write_the_backup_cannot_take_is_refused() {
    // The backup's address accepts nothing: replication fails, so the
    // primary must not acknowledge.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let primary = start(Config::primary(nowhere)).await;
    let client = Client::new(primary.http);
    assert_eq!(
        client.put("k", "v").await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(client.get("k").await.unwrap(), None);
}

#[tokio::test]
async fn a_subscriber_receives_pushes_and_heartbeats() {
    let (primary, _backup) = pair().await;
    let mut subscriber = Subscriber::connect(&primary.push).await.unwrap();
    let client = Client::new(primary.http);
    let writer = tokio::spawn(async move {
        for i in 0..3 {
            let status = client.put(&format!("k{i}"), &format!("v {i}")).await;
            assert_eq!(status.unwrap(), StatusCode::OK);
        }
    });
    let (mut pushes, mut heartbeats) = (Vec::new(), 0);
    // Three pushes, and heartbeats for at least 300 ms (one every 100 ms).
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while pushes.len() < 3 || heartbeats < 3 || tokio::time::Instant::now() < deadline {
        let event = tokio::time::timeout(Duration::from_secs(5), subscriber.next())
            .await
            .expect("a push or a heartbeat within 5 s")
            .expect("the channel stays open")
            .unwrap();
        match event {
            Event::Push(push) => pushes.push(push),
            Event::Heartbeat => heartbeats += 1,
        }
    }
    writer.await.unwrap();
    let got: Vec<(String, String)> = pushes.into_iter().map(|p| (p.key, p.value)).collect();
    let want: Vec<(String, String)> = (0..3)
        .map(|i| (format!("k{i}"), format!("v {i}")))
        .collect();
    assert_eq!(got, want, "every committed write, in commit order");
    assert!(heartbeats >= 3, "{heartbeats} heartbeats");
}

#[tokio::test]
async fn the_backup_pushes_the_writes_it_replicates() {
    let (primary, backup) = pair().await;
    let mut subscriber = Subscriber::connect(&backup.push).await.unwrap();
    let status = Client::new(primary.http).put("k", "v").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    loop {
        match subscriber.next().await.unwrap().unwrap() {
            Event::Heartbeat => continue,
            Event::Push(push) => {
                assert_eq!((push.key.as_str(), push.value.as_str()), ("k", "v"));
                break;
            }
        }
    }
}

#[test]
fn pushes_round_trip_as_text() {
    let push = Push {
        version: 7,
        key: "k".into(),
        value: "a value with spaces".into(),
    };
    assert_eq!(push.to_string(), "put 7 k a value with spaces");
    assert_eq!(push.to_string().parse::<Push>().unwrap(), push);
    assert!("get 1 k v".parse::<Push>().is_err());
}
